"""A voucher's validity starts at its first accepted login, not at redemption.

Redemption gives the voucher's service a period from the moment of redemption, so that an
api-mode router (which reports no logins) ends it on time. A RADIUS server that accepts
the login (Access-Accept, or the Accounting-Start that follows it) moves that period to
start at the login: time spent being refused, or between redeeming and logging in, is not
taken from the voucher. This happens once per voucher: `first_login_at` is set only where
it is empty, so retransmissions, several RADIUS workers and both paths (Access-Accept and
Accounting-Start) write it once; whichever commits first wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from kiunga.tenants.catalog.models import Package
from kiunga.tenants.catalog.periods import add_validity
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession


async def start_at_first_login(
    session: AsyncSession, logins: Mapping[int, datetime]
) -> dict[int, tuple[datetime, datetime]]:
    """`logins`: service id → when a login of it was accepted. Starts the validity of the
    vouchers behind these services that had not started; returns, for those, the service's
    new (period_start, expires_at). Services that are no voucher's, or whose voucher has
    started already or is no longer active, are left alone."""
    if not logins:
        return {}
    waiting = (
        await session.execute(
            select(
                Voucher.id,
                Voucher.service_id,
                Package.validity_count,
                Package.validity_unit,
            )
            .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
            .join(Package, Package.id == VoucherBatch.package_id)
            .join(Service, Service.id == Voucher.service_id)
            .where(
                Voucher.service_id.in_(sorted(logins)),
                Voucher.status == VoucherStatus.ACTIVE,
                Voucher.first_login_at.is_(None),
                Service.status == ServiceStatus.ACTIVE,
            )
            .order_by(Voucher.id)
            # A second writer waits here, then finds the voucher started and skips it.
            .with_for_update(of=Voucher)
        )
    ).all()
    started: dict[int, tuple[datetime, datetime]] = {}
    for row in waiting:
        at = logins[row.service_id]
        started[row.service_id] = (at, add_validity(at, row.validity_count, row.validity_unit))
    if not started:
        return {}
    await session.execute(
        update(Voucher),
        [
            {
                "id": row.id,
                "first_login_at": started[row.service_id][0],
                "expires_at": started[row.service_id][1],
            }
            for row in waiting
        ],
    )
    # The services table's trigger tells the RADIUS caches the new period.
    await session.execute(
        update(Service),
        [
            {"id": service_id, "period_start": start, "expires_at": end}
            for service_id, (start, end) in sorted(started.items())
        ],
    )
    return started
