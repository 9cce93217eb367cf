"""Redeeming a voucher on the captive portal: the hotspot login it opens, and the refusals.

First use (a new or sold voucher): the voucher becomes active, its validity runs from now
for the package's validity until a RADIUS server accepts its first login, which starts it
again from there (see first_login), it is bound to the device when its batch binds, and a hotspot
service is created already active for that validity, with the code as username and
password. Nothing is invoiced: the voucher's sale is the money (a printed voucher nobody
marked sold has its sale recorded now, through the redemption channel). The service's
`service.activated` event puts it on api-mode routers as a staff-activated service's does;
RADIUS servers learn it from the services table's NOTIFY trigger.

Again (an active voucher): the same credentials, from the bound device (or any, when the
batch does not bind); nothing is written. `voucher.redeemed` is emitted at first use only.

Refused: unknown, expired (unused past its batch's expiry), used_up (validity over or data
cap reached), revoked, other_device. A refusal costs one indexed lookup whether the code
exists or not, and writes and locks nothing, so its time tells nothing about the code;
another ISP's code is simply unknown (it lives in another schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.catalog.periods import period_end
from kiunga.tenants.network.radius.models import UsagePeriod
from kiunga.tenants.services.credentials import encrypt_password
from kiunga.tenants.services.lifecycle import event_payload
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import router_mac
from kiunga.tenants.services.subscriber_status import sync_subscriber_statuses
from kiunga.tenants.vouchers.codes import normalise_code
from kiunga.tenants.vouchers.ending import end_services
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.models import SaleChannel, Voucher, VoucherBatch, VoucherStatus
from kiunga.tenants.vouchers.sales import SaleTerms, sale_insert
from kiunga.tenants.vouchers.walkin import walk_in_subscriber_id
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

REDEEMED = "voucher.redeemed"

MESSAGES = {
    "unknown": "No voucher with this code.",
    "expired": "This voucher expired before it was used.",
    "used_up": "This voucher is used up: its time or data has run out.",
    "revoked": "This voucher was cancelled by the provider.",
    "other_device": "This voucher is in use on another device.",
}


@dataclass(frozen=True, slots=True)
class Redeemed:
    voucher_id: int
    code: str  # the hotspot login: username == password == code
    password: str
    service_id: int
    expires_at: datetime  # validity end (UTC)
    package_name: str
    data_cap_bytes: int | None
    first_use: bool  # False when an active voucher is used again (re-login)


class RedeemRefused(Exception):
    """`reason` is one of MESSAGES' keys (the portal words it in the user's language);
    `message` is plain English for logs."""

    def __init__(self, reason: str, message: str | None = None):
        self.reason = reason
        self.message = message or MESSAGES[reason]
        super().__init__(self.message)


def lookup_query(code: str):
    """The one statement behind a redemption or a status page: the voucher, its batch's
    terms, its package, and the data its service used in its validity."""
    used = (UsagePeriod.input_octets + UsagePeriod.output_octets).label("used_bytes")
    return (
        select(
            Voucher,
            VoucherBatch.revoked_at.label("batch_revoked_at"),
            VoucherBatch.unused_expires_at,
            VoucherBatch.mac_binding,
            VoucherBatch.price.label("batch_price"),
            VoucherBatch.currency.label("batch_currency"),
            VoucherBatch.reseller_id.label("batch_reseller_id"),
            VoucherBatch.commission_bp.label("batch_commission_bp"),
            Package.id.label("package_id"),
            Package.name.label("package_name"),
            Package.service_type,
            Package.validity_count,
            Package.validity_unit,
            Package.data_cap_bytes,
            Package.fup_rate_limit,
            Service.status.label("service_status"),
            used,
        )
        .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .join(Package, Package.id == VoucherBatch.package_id)
        .outerjoin(Service, Service.id == Voucher.service_id)
        .outerjoin(
            UsagePeriod,
            and_(
                UsagePeriod.service_id == Voucher.service_id,
                # The service's period: from redemption, or from the first login once
                # RADIUS accepted one (vouchers.first_login).
                UsagePeriod.period_start == Service.period_start,
            ),
        )
        .where(Voucher.code == code)
    )


def data_used_up(row) -> bool:
    """A cap with no fair-usage rate after it ends the voucher once reached."""
    cap = row.data_cap_bytes
    return cap is not None and row.fup_rate_limit is None and (row.used_bytes or 0) >= cap


def effective_status(row, now: datetime) -> VoucherStatus:
    """The voucher's status as of `now`: a state the periodic jobs have not yet written
    (an unused voucher past its batch's expiry, a validity that ran out, a cap reached)
    counts already."""
    voucher: Voucher = row.Voucher
    status = voucher.status
    if status in (VoucherStatus.NEW, VoucherStatus.SOLD):
        if row.batch_revoked_at is not None:
            return VoucherStatus.REVOKED
        if row.unused_expires_at is not None and row.unused_expires_at <= now:
            return VoucherStatus.EXPIRED
        return status
    if status is VoucherStatus.ACTIVE:
        if voucher.service_id is None or voucher.expires_at is None:
            return VoucherStatus.USED_UP
        if row.service_status == ServiceStatus.TERMINATED:  # ended by staff
            return VoucherStatus.USED_UP
        if voucher.expires_at <= now or data_used_up(row):
            return VoucherStatus.USED_UP
    return status


async def _lookup(session: AsyncSession, code: str, *, lock: bool):
    query = lookup_query(code).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update(of=Voucher)
    return (await session.execute(query)).first()


async def redeem_voucher(
    session: AsyncSession,
    code: str,
    *,
    mac: str | None,
    ip: str | None,
    actor_label: str = "portal",
    now: datetime | None = None,
    subscriber_id: int | None = None,
) -> Redeemed:
    """Redeem `code` for the device `mac` (see the module notes). `subscriber_id` is the
    portal buyer's account (a voucher bought on the portal); otherwise the ISP's walk-in
    subscriber holds the service. Only flushes; the caller commits."""
    now = now or utcnow()
    code = normalise_code(code)
    row = await _lookup(session, code, lock=False)
    if row is None:
        raise RedeemRefused("unknown")
    status = effective_status(row, now)
    if status in (VoucherStatus.NEW, VoucherStatus.SOLD):
        # Locked only now, so that a refusal costs the same whether the code exists or not;
        # a concurrent first use of the same code waits here and finds it active.
        row = await _lookup(session, code, lock=True)
        status = effective_status(row, now)
    device = router_mac(mac)
    voucher: Voucher = row.Voucher
    if status is VoucherStatus.ACTIVE:
        if voucher.mac_address is not None and device != voucher.mac_address:
            raise RedeemRefused("other_device")
        return _redeemed(voucher, row, first_use=False)
    if status not in (VoucherStatus.NEW, VoucherStatus.SOLD):
        raise RedeemRefused(status.value)
    return await _first_use(
        session, voucher, row, device, ip, actor_label, now, subscriber_id=subscriber_id
    )


async def _first_use(
    session: AsyncSession,
    voucher: Voucher,
    row,
    device: str | None,
    ip: str | None,
    actor_label: str,
    now: datetime,
    *,
    subscriber_id: int | None,
) -> Redeemed:
    expires_at = period_end(row, now)
    bound = device if row.mac_binding else None
    holder = subscriber_id if subscriber_id is not None else await walk_in_subscriber_id(session)
    service = Service(
        subscriber_id=holder,
        package_id=row.package_id,
        service_type=row.service_type,
        username=voucher.code,
        password_encrypted=encrypt_password(voucher.code),
        mac_address=bound,
        status=ServiceStatus.ACTIVE,
        auto_renew=False,
        activated_at=now,
        period_start=now,
        expires_at=expires_at,
    )
    session.add(service)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if service in session:
            session.expunge(service)
        raise VoucherError(
            "code", "the code is already the login of another service", status_code=409
        ) from exc
    if voucher.status is VoucherStatus.NEW:
        # A printed voucher nobody marked sold is sold now, on its batch's terms (read with
        # it). The voucher is locked: no one else can be recording its sale meanwhile.
        terms = SaleTerms(
            voucher.batch_id,
            row.batch_price,
            row.batch_currency,
            row.batch_reseller_id,
            row.batch_commission_bp,
        )
        await session.execute(
            sale_insert(
                voucher.id, terms, channel=SaleChannel.REDEMPTION, actor_label=actor_label, now=now
            )
        )
        voucher.sold_at = now
    voucher.status = VoucherStatus.ACTIVE
    voucher.activated_at = now
    voucher.expires_at = expires_at
    voucher.mac_address = bound
    voucher.service_id = service.id
    await session.flush()
    await emit(
        session,
        "service.activated",
        event_payload(service, invoice_id=None, voucher_id=voucher.id),
    )
    await emit(session, REDEEMED, _event(voucher, row, ip=ip, first_use=True))
    if subscriber_id is not None:
        await sync_subscriber_statuses(
            session,
            [subscriber_id],
            reason=f"voucher redeemed (service {service.id})",
            actor=Actor.system(actor_label),
        )
    return _redeemed(voucher, row, first_use=True)


def _event(voucher: Voucher, row, *, ip: str | None, first_use: bool) -> dict:
    # Never the code: it is the login's password.
    return {
        "voucher_id": voucher.id,
        "batch_id": voucher.batch_id,
        "service_id": voucher.service_id,
        "package_id": row.package_id,
        "mac_address": voucher.mac_address,
        "ip": ip,
        "first_use": first_use,
        "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
    }


def _redeemed(voucher: Voucher, row, *, first_use: bool) -> Redeemed:
    return Redeemed(
        voucher_id=voucher.id,
        code=voucher.code,
        password=voucher.code,
        service_id=voucher.service_id,
        expires_at=voucher.expires_at,
        package_name=row.package_name,
        data_cap_bytes=row.data_cap_bytes,
        first_use=first_use,
    )


async def revoke_live_service(session: AsyncSession, voucher: Voucher) -> None:
    """Staff revoke an active voucher: its service ends now (routers drop the login and
    RADIUS disconnects the session, on the service.terminated event). The caller sets the
    voucher's own status."""
    if voucher.service_id is None:
        return
    now = utcnow()
    await end_services(
        session, [voucher.service_id], now=now, reason=f"voucher {voucher.id} revoked"
    )
    if voucher.ended_at is None:
        voucher.ended_at = now
