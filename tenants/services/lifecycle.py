"""A service's lifecycle, one transaction each: the caller commits, these only flush.

Every change writes its ledger entries (through billing) and an outbox event in the same
transaction, and brings the subscriber's status in line (see subscriber_status).

Activation bills the first period at once. A prepaid service is paid from the subscriber's
credit; when the credit does not cover the price, the service stays pending (nothing is
billed) until a payment covers it — unless staff activate it on trust (`allow_unpaid`), in
which case the invoice stays open. A postpaid service always activates; its invoice is due
`postpaid_due_days` later.

Prepaid periods follow one another from the old expiry (a subscriber who renews early loses
nothing); an expired service that is paid again starts a new period at the payment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing import adjustments, ledger
from kiunga.tenants.billing.invoices import InvoiceLineInput, issue_invoice
from kiunga.tenants.billing.models import Invoice
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.catalog.periods import period_end
from kiunga.tenants.services.errors import ServiceConflict, ServiceError, ServiceNotFound
from kiunga.tenants.services.models import Service, ServiceStatus, SuspensionReason
from kiunga.tenants.services.proration import prorate
from kiunga.tenants.services.settings import billing_settings
from kiunga.tenants.services.subscriber_status import sync_subscriber_statuses
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

LIVE = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)


async def get_service(session: AsyncSession, service_id: int, *, lock: bool = False) -> Service:
    query = select(Service).where(Service.id == service_id)
    if lock:
        query = query.with_for_update()
    service = await session.scalar(query.execution_options(populate_existing=True))
    if service is None:
        raise ServiceNotFound(service_id)
    return service


async def usable_package(session: AsyncSession, package_id: object) -> Package:
    if not isinstance(package_id, int) or isinstance(package_id, bool):
        raise ServiceError("package_id", "package_id must be a whole number")
    package = await session.get(Package, package_id)
    if package is None:
        raise ServiceError("package_id", f"no package with id {package_id}")
    if not package.is_active:
        raise ServiceError("package_id", f"package {package.name!r} is archived")
    return package


async def lock_for_money(session: AsyncSession, service_id: int) -> Service:
    """The service, locked after its subscriber's account: the order a payment (account,
    then the restore hook's services) and the lifecycle run take them, so none of them can
    deadlock with another."""
    service = await get_service(session, service_id)
    await ledger.account_for(session, service.subscriber_id, lock=True)
    return await get_service(session, service_id, lock=True)


def event_payload(service: Service, **facts: object) -> dict:
    payload = {
        "service_id": service.id,
        "subscriber_id": service.subscriber_id,
        "package_id": service.package_id,
        "status": service.status.value,
        "expires_at": service.expires_at.isoformat() if service.expires_at else None,
    }
    payload.update(facts)
    return payload


async def _follow(session: AsyncSession, service: Service, reason: str, actor: Actor) -> None:
    await sync_subscriber_statuses(session, [service.subscriber_id], reason=reason, actor=actor)


async def bill_period(
    session: AsyncSession,
    service: Service,
    package: Package,
    *,
    start: datetime,
    actor: Actor,
    due_at: datetime,
    issued_at: datetime,
) -> tuple[datetime, Invoice | None]:
    """Invoice one period of `package` from `start`; returns its end (and the invoice,
    None for a free package, which has nothing to bill)."""
    end = period_end(package, start)
    if package.price == 0:
        return end, None
    line = InvoiceLineInput(
        description=f"{package.name}, {start:%d %b %Y %H:%M} to {end:%d %b %Y %H:%M} UTC",
        quantity=1,
        unit_price=package.price,
        service_id=service.id,
        period_start=start,
        period_end=end,
    )
    invoice = await issue_invoice(
        session, service.subscriber_id, [line], due_at=due_at, actor=actor, issued_at=issued_at
    )
    return end, invoice


async def _due_at(session: AsyncSession, package: Package, start: datetime) -> datetime:
    if package.billing_type is BillingType.PREPAID:
        return start
    settings = await billing_settings(session)
    return start + timedelta(days=settings.postpaid_due_days)


async def start_period(
    session: AsyncSession,
    service: Service,
    package: Package,
    *,
    start: datetime,
    actor: Actor,
    now: datetime,
) -> Invoice | None:
    """Bill a period from `start` and make the service active for it."""
    due_at = await _due_at(session, package, start)
    end, invoice = await bill_period(
        session, service, package, start=start, actor=actor, due_at=due_at, issued_at=now
    )
    service.status = ServiceStatus.ACTIVE
    service.period_start, service.expires_at = start, end
    service.suspended_at = service.suspension_reason = None
    await session.flush()
    return invoice


async def activate_service(
    session: AsyncSession,
    service_id: int,
    *,
    actor: Actor,
    now: datetime | None = None,
    allow_unpaid: bool = False,
) -> Service:
    """Activate a pending (or expired) service and bill its first period at once."""
    now = now or utcnow()
    service = await lock_for_money(session, service_id)
    if service.status is ServiceStatus.ACTIVE:
        raise ServiceConflict(
            "service_id",
            f"service {service.id} is already active until {service.expires_at:%Y-%m-%d %H:%M}",
        )
    if service.status in (ServiceStatus.SUSPENDED, ServiceStatus.TERMINATED):
        verb = "restore it instead" if service.status is ServiceStatus.SUSPENDED else "it is over"
        raise ServiceConflict("service_id", f"service {service.id} is {service.status}: {verb}")
    package = await usable_package(session, service.package_id)
    if package.billing_type is BillingType.PREPAID and not allow_unpaid:
        if await ledger.balance(session, service.subscriber_id) < package.price:
            return service  # stays pending (or expired) until a payment covers the price
    first = service.activated_at is None
    invoice = await start_period(session, service, package, start=now, actor=actor, now=now)
    if first:
        service.activated_at = now
    await session.flush()
    topic = "service.activated" if first else "service.restored"
    await emit(session, topic, event_payload(service, invoice_id=invoice and invoice.id))
    await _follow(session, service, f"service {service.id} activated", actor)
    return service


async def suspend_service(
    session: AsyncSession,
    service_id: int,
    *,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> Service:
    service = await get_service(session, service_id, lock=True)
    if service.status is not ServiceStatus.ACTIVE:
        raise ServiceConflict("service_id", f"service {service.id} is {service.status}, not active")
    service.status = ServiceStatus.SUSPENDED
    service.suspended_at = now or utcnow()
    service.suspension_reason = SuspensionReason.STAFF
    await session.flush()
    await emit(session, "service.suspended", event_payload(service, reason=reason))
    await _follow(session, service, f"service {service.id} suspended: {reason}", actor)
    return service


async def restore_service(
    session: AsyncSession, service_id: int, *, actor: Actor, reason: str = "restored by staff"
) -> Service:
    """Staff lift a suspension. Nothing is billed: the period that was running goes on (a
    prepaid period that ended meanwhile is renewed or expired by the next lifecycle run)."""
    service = await get_service(session, service_id, lock=True)
    if service.status is not ServiceStatus.SUSPENDED:
        raise ServiceConflict(
            "service_id", f"service {service.id} is {service.status}, not suspended"
        )
    service.status = ServiceStatus.ACTIVE
    service.suspended_at = service.suspension_reason = None
    await session.flush()
    await emit(session, "service.restored", event_payload(service, reason=reason))
    await _follow(session, service, f"service {service.id} restored", actor)
    return service


async def terminate_service(
    session: AsyncSession,
    service_id: int,
    *,
    reason: str,
    actor: Actor,
    now: datetime | None = None,
) -> Service:
    """End a service for good. Its username and address become free; nothing is refunded
    automatically (staff issue a credit note if the ISP refunds the unused days)."""
    service = await get_service(session, service_id, lock=True)
    if service.status is ServiceStatus.TERMINATED:
        raise ServiceConflict("service_id", f"service {service.id} is already terminated")
    service.status = ServiceStatus.TERMINATED
    service.terminated_at = now or utcnow()
    await session.flush()
    await emit(session, "service.terminated", event_payload(service, reason=reason))
    await _follow(session, service, f"service {service.id} terminated: {reason}", actor)
    return service


async def renew_service(
    session: AsyncSession, service_id: int, *, actor: Actor, now: datetime | None = None
) -> Service:
    """Bill the next period: from the old expiry while the service is live, from now when
    it had expired (the days without service are not charged)."""
    now = now or utcnow()
    service = await lock_for_money(session, service_id)
    if service.status not in (*LIVE, ServiceStatus.EXPIRED):
        raise ServiceConflict("service_id", f"service {service.id} is {service.status}")
    package = await usable_package(session, service.package_id)
    was_expired = service.status is ServiceStatus.EXPIRED
    start = max(now, service.expires_at) if was_expired else service.expires_at
    invoice = await start_period(session, service, package, start=start, actor=actor, now=now)
    topic = "service.restored" if was_expired else "service.renewed"
    await emit(session, topic, event_payload(service, invoice_id=invoice and invoice.id))
    if was_expired:
        await _follow(session, service, f"service {service.id} renewed", actor)
    return service


async def expire_service(
    session: AsyncSession, service_id: int, *, actor: Actor, now: datetime | None = None
) -> Service:
    now = now or utcnow()
    service = await get_service(session, service_id, lock=True)
    if service.status is not ServiceStatus.ACTIVE or service.expires_at > now:
        raise ServiceConflict("service_id", f"service {service.id} is not due to expire")
    service.status = ServiceStatus.EXPIRED
    await session.flush()
    await emit(session, "service.expired", event_payload(service))
    await _follow(session, service, f"service {service.id} expired unpaid", actor)
    return service


async def change_package(
    session: AsyncSession,
    service_id: int,
    package_id: int,
    *,
    actor: Actor,
    now: datetime | None = None,
    allow_unpaid: bool = False,
) -> Service:
    """Move a live service to another package for the rest of its period (see proration):
    a credit note for the unused part of the old package, an invoice for the new one. The
    period's end does not move; the next renewal bills the new package in full."""
    now = now or utcnow()
    service = await lock_for_money(session, service_id)
    if service.status not in LIVE:
        raise ServiceConflict("service_id", f"service {service.id} is {service.status}")
    old = await usable_package(session, service.package_id)
    new = await usable_package(session, package_id)
    if new.id == old.id:
        raise ServiceError("package_id", "the service is already on this package")
    if new.billing_type is not old.billing_type:
        raise ServiceError(
            "package_id", f"package {new.name!r} is {new.billing_type}, not {old.billing_type}"
        )
    period_start, period_stop = service.period_start, service.expires_at
    at = min(max(now, period_start), period_stop)
    amounts = prorate(
        old_price=old.price,
        new_price=new.price,
        period_start=period_start,
        period_end=period_stop,
        new_period_end=period_end(new, period_start),
        at=at,
    )
    if new.billing_type is BillingType.PREPAID and not allow_unpaid:
        available = await ledger.balance(session, service.subscriber_id) + amounts.credit
        if available < amounts.charge:
            raise ServiceError(
                "package_id",
                f"the balance covers {available} of the {amounts.charge} the change costs",
            )
    reason = f"unused part of {old.name} on service {service.id} (moved to {new.name})"
    if amounts.credit > 0:
        await adjustments.issue_credit_note(
            session, service.subscriber_id, amounts.credit, reason=reason, actor=actor
        )
    invoice = None
    if amounts.charge > 0:
        line = InvoiceLineInput(
            description=f"{new.name}, rest of the period to {period_stop:%d %b %Y %H:%M} UTC",
            quantity=1,
            unit_price=amounts.charge,
            service_id=service.id,
            period_start=at,
            period_end=period_stop,
        )
        invoice = await issue_invoice(
            session,
            service.subscriber_id,
            [line],
            due_at=await _due_at(session, new, at),
            actor=actor,
            issued_at=now,
        )
    service.package_id, service.service_type = new.id, new.service_type
    await session.flush()
    await emit(
        session,
        "service.changed",
        event_payload(
            service,
            from_package_id=old.id,
            credit=amounts.credit,
            charge=amounts.charge,
            invoice_id=invoice and invoice.id,
        ),
    )
    return service
