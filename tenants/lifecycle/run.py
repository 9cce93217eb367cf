"""One lifecycle run over one tenant, as of `now` (injected by tests, the job's clock else).

In order:
1. prepaid services whose period ended: renewed from the balance when auto-renew is on and
   the balance covers the price (the next period starts at the old expiry, and missed
   periods are caught up while the money lasts), else expired;
2. postpaid services whose period ended: the next period's invoice (and any missed ones),
   due `postpaid_due_days` later;
3. active postpaid services of subscribers with an invoice overdue past the grace period:
   suspended (a payment that covers restores them, see restore.py);
4. reminders: reminder.due_soon before a prepaid expiry or a postpaid due date, and
   reminder.overdue for a postpaid invoice past due, each at most once per period.

Idempotent: every step selects only what is still to do as of `now`, and marks what it did
in the same transaction, so a second run at the same `now` changes nothing. Work is done in
batches of services with set-based reads and writes, billing included (bulk_billing): the
statements per batch do not grow with its size.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from kiunga.tenants.actors import Actor
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.catalog.periods import period_end
from kiunga.tenants.lifecycle.batch import balances, subscribers_owing
from kiunga.tenants.lifecycle.bulk_billing import PeriodCharge, issue_period_invoices, lock_accounts
from kiunga.tenants.services.events import emit_many
from kiunga.tenants.services.lifecycle import event_payload
from kiunga.tenants.services.models import Service, ServiceStatus, SuspensionReason
from kiunga.tenants.services.settings import billing_settings
from kiunga.tenants.services.subscriber_status import sync_subscriber_statuses
from kiunga.tenants.vouchers.ending import use_up_vouchers_of
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

LIFECYCLE = Actor.system("lifecycle")
BATCH_SIZE = 1000
# A service years behind (a clock jump, a restored backup) is caught up this many periods
# per run at most, so one run never bills without end.
MAX_CATCH_UP = 400


@dataclass
class LifecycleReport:
    renewed: int = 0
    expired: int = 0
    invoiced: int = 0
    suspended: int = 0
    reminded_due_soon: int = 0
    reminded_overdue: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


async def run_lifecycle(
    session: AsyncSession, *, now: datetime, batch_size: int = BATCH_SIZE
) -> LifecycleReport:
    settings = await billing_settings(session)
    report = LifecycleReport()
    packages: dict[int, Package] = {
        package.id: package for package in await session.scalars(select(Package))
    }
    await _renew_or_expire_prepaid(session, now, packages, report, batch_size)
    await _invoice_postpaid_cycles(session, now, packages, settings, report, batch_size)
    await _suspend_overdue_postpaid(session, now, settings, report)
    await _remind(session, now, settings, report)
    return report


def _due(billing_type: BillingType, now: datetime):
    return (
        Service.status == ServiceStatus.ACTIVE,
        Service.expires_at <= now,
        Service.package_id.in_(select(Package.id).where(Package.billing_type == billing_type)),
    )


@dataclass(slots=True)
class _Due:
    id: int
    subscriber_id: int
    package_id: int
    auto_renew: bool
    expires_at: datetime
    period_start: datetime | None = None

    def payload(self, status: ServiceStatus) -> dict:
        return {
            "service_id": self.id,
            "subscriber_id": self.subscriber_id,
            "package_id": self.package_id,
            "status": status.value,
            "expires_at": self.expires_at.isoformat(),
        }


async def _next_batch(session, billing_type, now, batch_size, skip) -> tuple[dict, list[_Due]]:
    """Up to `batch_size` due services, locked: their subscribers' accounts first, then the
    services (the order a payment takes them in); rows another run holds are skipped."""
    query = select(Service.id, Service.subscriber_id).where(*_due(billing_type, now))
    if skip:
        query = query.where(Service.id.not_in(skip))
    candidates = (await session.execute(query.order_by(Service.id).limit(batch_size))).all()
    if not candidates:
        return {}, []
    accounts = await lock_accounts(session, {subscriber_id for _, subscriber_id in candidates})
    rows = await session.execute(
        select(
            Service.id,
            Service.subscriber_id,
            Service.package_id,
            Service.auto_renew,
            Service.expires_at,
        )
        .where(Service.id.in_([service_id for service_id, _ in candidates]))
        .where(*_due(billing_type, now))
        .order_by(Service.subscriber_id, Service.id)
        .with_for_update(skip_locked=True)
    )
    batch = [_Due(*row) for row in rows]
    held = {service.id for service in batch}
    skip.update(service_id for service_id, _ in candidates if service_id not in held)
    return accounts, batch


def _charge(service: _Due, package: Package, due_days: int | None) -> PeriodCharge:
    start = service.expires_at
    end = period_end(package, start)
    due_at = start if due_days is None else start + timedelta(days=due_days)
    service.period_start, service.expires_at = start, end
    return PeriodCharge(service.id, service.subscriber_id, package, start, end, due_at)


async def _save_periods(session: AsyncSession, services: list[_Due]) -> None:
    if services:
        await session.execute(
            update(Service),
            [
                {"id": s.id, "period_start": s.period_start, "expires_at": s.expires_at}
                for s in services
            ],
        )


def _count_pass(passes: dict[int, int], skip: set[int], service_id: int) -> None:
    passes[service_id] = passes.get(service_id, 0) + 1
    if passes[service_id] >= MAX_CATCH_UP:
        skip.add(service_id)


async def _renew_or_expire_prepaid(session, now, packages, report, batch_size) -> None:
    """One period per service per pass; a service still behind after its renewal comes
    back in the next pass, so missed periods are caught up while the money lasts."""
    skip: set[int] = set()
    renewed_ids: set[int] = set()
    passes: dict[int, int] = {}
    while True:
        accounts, batch = await _next_batch(session, BillingType.PREPAID, now, batch_size, skip)
        if not batch:
            break
        money = await balances(session, {s.subscriber_id for s in batch if s.auto_renew})
        charges, renewed, expired = [], [], []
        for service in batch:
            package = packages[service.package_id]
            _count_pass(passes, skip, service.id)
            if service.auto_renew and money.get(service.subscriber_id, 0) >= package.price:
                money[service.subscriber_id] -= package.price
                charges.append(_charge(service, package, None))
                renewed.append(service)
            else:
                expired.append(service)
        await issue_period_invoices(session, charges, accounts, now=now, actor=LIFECYCLE)
        await _save_periods(session, renewed)
        # A voucher's service is never renewed: it ends with its voucher, used up.
        vouchers = await use_up_vouchers_of(
            session, [s.id for s in expired], now=now, reason="voucher used up"
        )
        report.expired += len(vouchers)
        expired = [s for s in expired if s.id not in vouchers]
        if expired:
            await session.execute(
                update(Service)
                .where(Service.id.in_([s.id for s in expired]))
                .values(status=ServiceStatus.EXPIRED)
                .execution_options(synchronize_session=False)
            )
        active, gone = ServiceStatus.ACTIVE, ServiceStatus.EXPIRED
        await emit_many(session, "service.renewed", [s.payload(active) for s in renewed])
        await emit_many(session, "service.expired", [s.payload(gone) for s in expired])
        await sync_subscriber_statuses(
            session,
            {s.subscriber_id for s in expired},
            reason="prepaid period ended unpaid",
            actor=LIFECYCLE,
        )
        renewed_ids.update(s.id for s in renewed)
        report.expired += len(expired)
    report.renewed += len(renewed_ids)


async def _invoice_postpaid_cycles(session, now, packages, settings, report, batch_size) -> None:
    skip: set[int] = set()
    passes: dict[int, int] = {}
    while True:
        accounts, batch = await _next_batch(session, BillingType.POSTPAID, now, batch_size, skip)
        if not batch:
            return
        charges = []
        for service in batch:
            _count_pass(passes, skip, service.id)
            package = packages[service.package_id]
            charges.append(_charge(service, package, settings.postpaid_due_days))
        await issue_period_invoices(session, charges, accounts, now=now, actor=LIFECYCLE)
        await _save_periods(session, batch)
        await emit_many(
            session, "service.renewed", [s.payload(ServiceStatus.ACTIVE) for s in batch]
        )
        report.invoiced += len(charges)


def _postpaid_ids():
    return select(Package.id).where(Package.billing_type == BillingType.POSTPAID)


async def _suspend_overdue_postpaid(session, now, settings, report) -> None:
    cutoff = now - timedelta(days=settings.grace_days)
    rows = (
        (
            await session.execute(
                update(Service)
                .where(
                    Service.status == ServiceStatus.ACTIVE,
                    Service.package_id.in_(_postpaid_ids()),
                    Service.subscriber_id.in_(subscribers_owing(due_by=cutoff)),
                )
                .values(
                    status=ServiceStatus.SUSPENDED,
                    suspended_at=now,
                    suspension_reason=SuspensionReason.OVERDUE.value,
                )
                .returning(Service)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return
    await emit_many(
        session, "service.suspended", [event_payload(s, reason="overdue") for s in rows]
    )
    await sync_subscriber_statuses(
        session,
        {s.subscriber_id for s in rows},
        reason=f"invoice overdue more than {settings.grace_days} days",
        actor=LIFECYCLE,
    )
    report.suspended += len(rows)


def _not_reminded(column):
    return or_(column.is_(None), column != Service.expires_at)


async def _mark(session, condition, column) -> list[Service]:
    result = await session.execute(
        update(Service)
        .where(condition, _not_reminded(column))
        .values({column.key: Service.expires_at})
        .returning(Service)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars().all())


async def _remind(session, now, settings, report) -> None:
    soon = now + timedelta(days=settings.reminder_days_before)
    prepaid_expiring = and_(
        Service.status == ServiceStatus.ACTIVE,
        Service.package_id.not_in(_postpaid_ids()),
        Service.expires_at > now,
        Service.expires_at <= soon,
        # A voucher is not renewed by paying: nothing to remind.
        ~exists().where(Voucher.service_id == Service.id),
    )
    postpaid_due_soon = and_(
        Service.status == ServiceStatus.ACTIVE,
        Service.package_id.in_(_postpaid_ids()),
        Service.subscriber_id.in_(subscribers_owing(due_by=soon, due_after=now)),
    )
    due_soon = await _mark(
        session, or_(prepaid_expiring, postpaid_due_soon), Service.due_soon_reminded_for
    )
    overdue = await _mark(
        session,
        and_(
            Service.status.in_((ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)),
            Service.package_id.in_(_postpaid_ids()),
            Service.subscriber_id.in_(subscribers_owing(due_by=now)),
        ),
        Service.overdue_reminded_for,
    )
    await emit_many(session, "reminder.due_soon", [event_payload(s) for s in due_soon])
    await emit_many(session, "reminder.overdue", [event_payload(s) for s in overdue])
    report.reminded_due_soon += len(due_soon)
    report.reminded_overdue += len(overdue)
