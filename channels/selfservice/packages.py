"""Renew now, or change package, confirmed before it happens.

A quote says what will happen (charged, credited, the new expiry, what the balance covers
and what is left to pay) from the same computation the services area uses: the package's
period (`period_end`) and `prorate`, on the service's current period. The confirmation
carries the quote (its `token`): the quote is computed again as of the moment it was
given, and anything that changed since (a price, the package, the period, another
renewal) refuses the confirmation instead of charging what the subscriber did not see.
A change then runs as of the quote's moment, so its proration is to the cent the one
shown. Only prepaid services: a postpaid account is billed by the ISP's cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kiunga.channels.selfservice.accounts import clean_phone, own_account, round_up_to_whole
from kiunga.channels.selfservice.errors import (
    NotYours,
    SelfServiceError,
    record_id,
    subscriber_actor,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import Kind
from kiunga.tenants.billing import ledger
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.catalog.periods import period_end
from kiunga.tenants.services.lifecycle import (
    LIVE,
    change_package,
    lock_for_money,
    renew_service,
)
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.proration import prorate
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

# How long a quote may be confirmed after it was given.
QUOTE_VALID = timedelta(minutes=10)
# A subscriber renews a running or lapsed service and changes a running one; a suspended
# one is the ISP's to lift (overdue: a payment restores it; by staff: only staff).
SELF_RENEWABLE = (ServiceStatus.ACTIVE, ServiceStatus.EXPIRED)
_NOT_NOW = {
    ServiceStatus.SUSPENDED: "your service is suspended: pay what is due, or contact us",
    ServiceStatus.EXPIRED: "your service has lapsed: renew it first",
    ServiceStatus.PENDING: "your service is not active yet: pay for it first",
    None: "this service cannot be changed now",
}


@dataclass(frozen=True, slots=True)
class Quote:
    kind: str  # "renew" or "change"
    subscriber_id: int
    service_id: int
    package_id: int  # the package renewed, or changed to
    package_name: str
    package_name_sw: str
    from_package_id: int
    charge: int  # invoiced now (minor units)
    credit: int  # credited back for the unused part of the old package (change only)
    currency: str
    current_expiry: datetime | None
    new_expiry: datetime  # the end of the period after this (a change keeps the end)
    balance: int  # now
    balance_after: int  # balance + credit - charge
    # What must be paid first (rounded up to whole shillings); 0: the balance covers it.
    to_pay: int
    quoted_at: datetime

    @property
    def token(self) -> str:
        """What a confirmation carries back (a form field, a USSD session's state)."""
        return ":".join(
            (
                self.kind,
                str(self.service_id),
                str(self.package_id),
                str(self.charge),
                str(self.credit),
                str(int(self.new_expiry.timestamp())),
                str(int(self.quoted_at.timestamp() * 1000)),
            )
        )


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    service_id: int
    package_id: int
    charge: int
    credit: int
    new_expiry: int
    quoted_at: datetime


def _parse_token(raw: object) -> _Token:
    parts = raw.split(":") if isinstance(raw, str) and len(raw) <= 120 else []
    try:
        kind, service_id, package_id, charge, credit, expiry, at = parts
        return _Token(
            kind,
            int(service_id),
            int(package_id),
            int(charge),
            int(credit),
            int(expiry),
            datetime.fromtimestamp(int(at) / 1000, UTC),
        )
    except (ValueError, OverflowError, OSError):
        raise SelfServiceError("quote", "this offer is not valid: ask for a new one") from None


async def _service(session: AsyncSession, subscriber_id: int, service_id: int | None) -> Service:
    query = select(Service).where(
        Service.subscriber_id == subscriber_id,
        Service.status != ServiceStatus.TERMINATED,
        # A voucher's login runs out with its voucher: more time is another voucher.
        ~exists().where(Voucher.service_id == Service.id),
    )
    if service_id is not None:
        query = query.where(Service.id == record_id(service_id, "service_id"))
    else:
        query = query.where(Service.status.in_((*LIVE, ServiceStatus.EXPIRED))).order_by(
            Service.status != ServiceStatus.ACTIVE, Service.id.desc()
        )
    service = await session.scalar(query.limit(1).execution_options(populate_existing=True))
    if service is None:
        raise NotYours("you have no service to renew or change", field="service_id")
    return service


def _prepaid(package: Package) -> None:
    if package.billing_type is not BillingType.PREPAID:
        raise SelfServiceError(
            "service_id", "a postpaid account is billed each period: nothing to renew here"
        )


async def _quote(
    session: AsyncSession,
    kind: str,
    service: Service,
    new: Package,
    old: Package,
    at: datetime,
) -> Quote:
    balance = await ledger.balance(session, service.subscriber_id)
    if kind == "renew":
        if service.status not in SELF_RENEWABLE:
            raise SelfServiceError("service_id", _NOT_NOW.get(service.status, _NOT_NOW[None]))
        live = service.status is not ServiceStatus.EXPIRED
        start = service.expires_at if live else max(at, service.expires_at or at)
        charge, credit, new_expiry = new.price, 0, period_end(new, start)
    else:
        if service.status is not ServiceStatus.ACTIVE:
            raise SelfServiceError("service_id", _NOT_NOW.get(service.status, _NOT_NOW[None]))
        if new.id == old.id:
            raise SelfServiceError("package_id", "you are on this package already")
        if new.billing_type is not old.billing_type or new.service_type is not old.service_type:
            raise SelfServiceError("package_id", "that package is not for this service")
        # As change_package computes it: the rest of the current period, pro rata.
        within = min(max(at, service.period_start), service.expires_at)
        amounts = prorate(
            old_price=old.price,
            new_price=new.price,
            period_start=service.period_start,
            period_end=service.expires_at,
            new_period_end=period_end(new, service.period_start),
            at=within,
        )
        charge, credit, new_expiry = amounts.charge, amounts.credit, service.expires_at
    after = balance + credit - charge
    return Quote(
        kind=kind,
        subscriber_id=service.subscriber_id,
        service_id=service.id,
        package_id=new.id,
        package_name=new.name,
        package_name_sw=new.name_sw or new.name,
        from_package_id=old.id,
        charge=charge,
        credit=credit,
        currency=new.currency,
        current_expiry=service.expires_at,
        new_expiry=new_expiry,
        balance=balance,
        balance_after=after,
        to_pay=round_up_to_whole(-after),
        quoted_at=at,
    )


async def _package(session: AsyncSession, package_id: object) -> Package:
    package = await session.get(Package, record_id(package_id, "package_id"))
    if package is None or not package.is_active:
        raise SelfServiceError("package_id", "that package is not offered any more")
    return package


async def renewal_quote(
    session: AsyncSession, subscriber_id: int, service_id: int | None = None
) -> Quote:
    """What renewing the service (the subscriber's live or lapsed one, or `service_id`)
    for one more period of its package costs, and until when it then runs."""
    service = await _service(session, subscriber_id, service_id)
    package = await _package(session, service.package_id)
    _prepaid(package)
    return await _quote(session, "renew", service, package, package, utcnow())


async def change_quote(
    session: AsyncSession, subscriber_id: int, package_id: int, service_id: int | None = None
) -> Quote:
    """What moving the service to `package_id` for the rest of its period costs."""
    service = await _service(session, subscriber_id, service_id)
    old = await session.get(Package, service.package_id)
    _prepaid(old)
    new = await _package(session, package_id)
    return await _quote(session, "change", service, new, old, utcnow())


async def packages_to_change_to(session: AsyncSession, subscriber_id: int) -> list[Package]:
    """The active packages of the same kind as the subscriber's service, cheapest first."""
    service = await _service(session, subscriber_id, None)
    old = await session.get(Package, service.package_id)
    rows = await session.scalars(
        select(Package)
        .where(
            Package.archived_at.is_(None),
            Package.billing_type == old.billing_type,
            Package.service_type == old.service_type,
            Package.id != old.id,
        )
        .order_by(Package.price, Package.name)
    )
    return list(rows)


async def _confirmed(
    session: AsyncSession, kind: str, subscriber_id: int, token: object, now: datetime
) -> Quote:
    wanted = _parse_token(token)
    if wanted.kind != kind:
        raise SelfServiceError("quote", "this offer is not valid: ask for a new one")
    if not (now - QUOTE_VALID <= wanted.quoted_at <= now + timedelta(seconds=5)):
        raise SelfServiceError(
            "quote", "this offer has expired: look at the new price", kind=Kind.CONFLICT
        )
    service = await _service(session, subscriber_id, wanted.service_id)
    # Locked (account, then service, as every money operation takes them) before the
    # figures are checked: two confirmations of one quote renew once.
    await lock_for_money(session, service.id)
    service = await _service(session, subscriber_id, wanted.service_id)
    old = await session.get(Package, service.package_id)
    _prepaid(old)
    new = old if kind == "renew" else await _package(session, wanted.package_id)
    if kind == "renew" and wanted.package_id != old.id:
        raise SelfServiceError(
            "quote", "your package changed: look at the new price", kind=Kind.CONFLICT
        )
    quote = await _quote(session, kind, service, new, old, wanted.quoted_at)
    if (quote.charge, quote.credit, int(quote.new_expiry.timestamp())) != (
        wanted.charge,
        wanted.credit,
        wanted.new_expiry,
    ):
        raise SelfServiceError(
            "quote", "the price or dates changed since: look at the new offer", kind=Kind.CONFLICT
        )
    if quote.to_pay > 0:
        raise SelfServiceError(
            "amount",
            f"your balance does not cover it: pay {quote.to_pay // 100} first",
            kind=Kind.CONFLICT,
        )
    return quote


async def renew_now(
    session: AsyncSession, *, subscriber_id: int, phone: str, token: str, channel: str = "web"
) -> Quote:
    """Renew as quoted (the quote's token), from the balance. SelfServiceError (conflict)
    when anything changed since the quote, or the balance does not cover it (pay first: a
    payment that covers a lapsed service renews it by itself)."""
    phone = clean_phone(phone)
    await own_account(session, phone, subscriber_id)
    quote = await _confirmed(session, "renew", subscriber_id, token, utcnow())
    await renew_service(
        session, quote.service_id, actor=subscriber_actor(phone, channel), now=quote.quoted_at
    )
    return quote


async def change_now(
    session: AsyncSession, *, subscriber_id: int, phone: str, token: str, channel: str = "web"
) -> Quote:
    """Change package as quoted: the services area's change_package, as of the quote's
    moment (so the proration is the one shown)."""
    phone = clean_phone(phone)
    await own_account(session, phone, subscriber_id)
    quote = await _confirmed(session, "change", subscriber_id, token, utcnow())
    await change_package(
        session,
        quote.service_id,
        quote.package_id,
        actor=subscriber_actor(phone, channel),
        now=quote.quoted_at,
    )
    return quote
