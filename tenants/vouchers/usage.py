"""What the captive portal's status page shows for a voucher: its state, and the time and
data it has left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.db.base import utcnow
from kiunga.tenants.vouchers.codes import normalise_code
from kiunga.tenants.vouchers.redeem import effective_status, lookup_query
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class VoucherUsage:
    # new | sold | active | used_up | expired | revoked, as of now
    status: str
    expires_at: datetime | None  # validity end once used; None before first use
    seconds_left: int | None  # None before first use
    data_cap_bytes: int | None
    bytes_used: int
    bytes_left: int | None  # None without a cap
    package_name: str


async def voucher_usage(
    session: AsyncSession, code: str, *, now: datetime | None = None
) -> VoucherUsage | None:
    """The voucher with this code (as typed), or None when there is none."""
    now = now or utcnow()
    row = (await session.execute(lookup_query(normalise_code(code)))).first()
    if row is None:
        return None
    voucher = row.Voucher
    status = effective_status(row, now)
    used = int(row.used_bytes or 0)
    cap = row.data_cap_bytes
    seconds_left = None
    if voucher.expires_at is not None:
        seconds_left = max(0, int((voucher.expires_at - now).total_seconds()))
        if status.value != "active":
            seconds_left = 0
    return VoucherUsage(
        status=status.value,
        expires_at=voucher.expires_at,
        seconds_left=seconds_left,
        data_cap_bytes=cap,
        bytes_used=used,
        bytes_left=None if cap is None else max(0, cap - used),
        package_name=row.package_name,
    )
