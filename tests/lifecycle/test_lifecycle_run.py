"""The lifecycle run with an injected clock: renewals, expiry, postpaid cycles, suspension
after grace, restoration in the payment's transaction, reminders, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.invoices import amount_due, open_amount
from kiunga.tenants.billing.models import InvoiceLine
from kiunga.tenants.catalog.models import BillingType, ValidityUnit
from kiunga.tenants.lifecycle.run import run_lifecycle
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.services.settings import update_billing_settings
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import func, select

STAFF = Actor.staff(3, "ops@isp.example")
NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
FEB_10 = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
MAR_10 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


async def _activate(unit_of_work, subscriber_id, package_id, **options) -> int:
    auto_renew = options.pop("auto_renew", True)
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(subscriber_id=subscriber_id, package_id=package_id, auto_renew=auto_renew),
            actor=STAFF,
            now=options.pop("now", NOW),
            **options,
        )
        return service.id


async def _run(unit_of_work, now):
    async with unit_of_work() as session:
        return (await run_lifecycle(session, now=now)).as_dict()


async def _state(unit_of_work, service_id, subscriber_id):
    async with unit_of_work() as session:
        service = await session.get(Service, service_id)
        subscriber = await session.get(Subscriber, subscriber_id)
        return service, subscriber.status, await ledger.balance(session, subscriber_id)


async def _outbox_size(unit_of_work) -> int:
    async with unit_of_work() as session:
        return await session.scalar(select(func.count()).select_from(OutboxEvent))


async def test_prepaid_renews_from_balance_from_the_old_expiry(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    await pay(subscriber, 250_000, NOW - timedelta(minutes=1))
    service_id = await _activate(unit_of_work, subscriber, package)

    assert (await _run(unit_of_work, FEB_10 - timedelta(seconds=1)))["renewed"] == 0
    report = await _run(unit_of_work, FEB_10 + timedelta(hours=3))  # the run came late
    assert report["renewed"] == 1 and report["expired"] == 0
    service, status, balance = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, service.period_start, service.expires_at) == (
        ServiceStatus.ACTIVE,
        FEB_10,
        MAR_10,
    )
    assert (status, balance) == (SubscriberStatus.ACTIVE, 50_000)
    renewed = await topics("service.renewed")
    assert renewed[0][1]["service_id"] == service_id
    assert renewed[0][1]["expires_at"] == MAR_10.isoformat()

    # The next period the credit (50,000) does not cover the price: expired.
    report = await _run(unit_of_work, MAR_10)
    assert report["expired"] == 1
    service, status, balance = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, status, balance) == (
        ServiceStatus.EXPIRED,
        SubscriberStatus.SUSPENDED,
        50_000,
    )
    assert [t for t, _ in await topics("service.expired")] == ["service.expired"]
    await check_invariants()


async def test_expired_prepaid_comes_back_in_the_payments_own_commit(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    await pay(subscriber, 100_000, NOW - timedelta(minutes=1))
    service_id = await _activate(unit_of_work, subscriber, package)
    assert (await _run(unit_of_work, FEB_10))["expired"] == 1

    await pay(subscriber, 70_000, FEB_10 + timedelta(days=1))  # not enough
    service, status, _ = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, status) == (ServiceStatus.EXPIRED, SubscriberStatus.SUSPENDED)

    paid_at = FEB_10 + timedelta(days=2)
    await pay(subscriber, 30_000, paid_at)  # 100,000 now: renewed from the payment
    service, status, balance = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, status, balance) == (ServiceStatus.ACTIVE, SubscriberStatus.ACTIVE, 0)
    assert (service.period_start, service.expires_at) == (
        paid_at,
        datetime(2026, 3, 12, 8, tzinfo=UTC),
    )
    assert [t for t, _ in await topics("service.")][-2:] == ["service.expired", "service.restored"]
    await check_invariants()


async def test_auto_renew_off_expires_even_with_credit(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=10_000, validity_count=1, validity_unit=ValidityUnit.HOUR)
    await pay(subscriber, 50_000, NOW - timedelta(minutes=1))
    service_id = await _activate(unit_of_work, subscriber, package, auto_renew=False)
    assert (await _run(unit_of_work, NOW + timedelta(hours=1)))["expired"] == 1
    service, _, balance = await _state(unit_of_work, service_id, subscriber)
    assert service.status is ServiceStatus.EXPIRED and balance == 40_000
    await check_invariants()


async def test_missed_periods_are_caught_up_while_the_money_lasts(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=10_000, validity_count=1, validity_unit=ValidityUnit.DAY)
    await pay(subscriber, 35_000, NOW - timedelta(minutes=1))
    service_id = await _activate(unit_of_work, subscriber, package)
    # Five days without a run: two more days are paid for, then the money runs out.
    report = await _run(unit_of_work, NOW + timedelta(days=5))
    assert report["renewed"] == 1 and report["expired"] == 1
    service, _, balance = await _state(unit_of_work, service_id, subscriber)
    assert service.status is ServiceStatus.EXPIRED
    assert service.expires_at == NOW + timedelta(days=3) and balance == 5_000
    await check_invariants()


async def test_postpaid_cycle_grace_suspension_and_restoration(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    async with unit_of_work() as session:
        await update_billing_settings(
            session, grace_days=3, postpaid_due_days=5, reminder_days_before=2
        )
    subscriber = await add_subscriber()
    package = await add_package(price=200_000, billing_type=BillingType.POSTPAID)
    service_id = await _activate(unit_of_work, subscriber, package)
    await pay(subscriber, 200_000, NOW + timedelta(days=1))  # the first invoice, paid

    # At the period boundary the next invoice is issued, due five days later.
    report = await _run(unit_of_work, FEB_10)
    assert report["invoiced"] == 1 and report["suspended"] == 0
    async with unit_of_work() as session:
        lines = (
            await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.service_id == service_id)
                .order_by(InvoiceLine.id)
            )
        ).all()
        assert [(line.period_start, line.period_end) for line in lines] == [
            (NOW, FEB_10),
            (FEB_10, MAR_10),
        ]
        assert await open_amount(session, subscriber) == 200_000
    # Two days before it is due: reminded once.
    assert (await _run(unit_of_work, FEB_10 + timedelta(days=3, hours=1)))["reminded_due_soon"] == 1
    assert (await _run(unit_of_work, FEB_10 + timedelta(days=4)))["reminded_due_soon"] == 0
    # Past due but within grace: reminded of the overdue invoice, still active.
    report = await _run(unit_of_work, FEB_10 + timedelta(days=6))
    assert (report["reminded_overdue"], report["suspended"]) == (1, 0)
    # Past due plus grace: suspended.
    report = await _run(unit_of_work, FEB_10 + timedelta(days=8, seconds=1))
    assert (report["suspended"], report["reminded_overdue"]) == (1, 0)
    service, status, _ = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, service.suspension_reason, status) == (
        ServiceStatus.SUSPENDED,
        "overdue",
        SubscriberStatus.SUSPENDED,
    )

    # A payment that does not cover what is overdue: still suspended.
    await pay(subscriber, 150_000, FEB_10 + timedelta(days=9))
    service, status, _ = await _state(unit_of_work, service_id, subscriber)
    assert service.status is ServiceStatus.SUSPENDED and status is SubscriberStatus.SUSPENDED
    # The rest: active again in the payment's own commit.
    await pay(subscriber, 50_000, FEB_10 + timedelta(days=9, hours=1))
    service, status, balance = await _state(unit_of_work, service_id, subscriber)
    assert (service.status, status, balance) == (ServiceStatus.ACTIVE, SubscriberStatus.ACTIVE, 0)
    assert service.expires_at == MAR_10  # restoring does not move the cycle
    async with unit_of_work() as session:
        assert await amount_due(session, subscriber, as_of=FEB_10 + timedelta(days=9)) == 0
    assert [t for t, _ in await topics("service.")] == [
        "service.activated",
        "service.renewed",
        "service.suspended",
        "service.restored",
    ]
    # A later run does not suspend it again.
    assert (await _run(unit_of_work, FEB_10 + timedelta(days=10)))["suspended"] == 0
    await check_invariants()


async def test_staff_suspension_is_not_lifted_by_a_payment(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    from kiunga.tenants.services.lifecycle import suspend_service

    subscriber = await add_subscriber()
    package = await add_package(price=200_000, billing_type=BillingType.POSTPAID)
    service_id = await _activate(unit_of_work, subscriber, package)
    async with unit_of_work() as session:
        await suspend_service(session, service_id, reason="abuse", actor=STAFF, now=NOW)
    await pay(subscriber, 500_000, NOW + timedelta(days=1))
    service, _, _ = await _state(unit_of_work, service_id, subscriber)
    assert service.status is ServiceStatus.SUSPENDED and service.suspension_reason == "staff"
    await check_invariants()


async def test_a_second_run_at_the_same_moment_changes_nothing(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    prepaid = await add_package(price=100_000)
    postpaid = await add_package(price=100_000, billing_type=BillingType.POSTPAID)
    rich, poor, billed = await add_subscriber(), await add_subscriber(), await add_subscriber()
    await pay(rich, 300_000, NOW - timedelta(minutes=1))
    await pay(poor, 100_000, NOW - timedelta(minutes=1))
    for subscriber, package in ((rich, prepaid), (poor, prepaid), (billed, postpaid)):
        await _activate(unit_of_work, subscriber, package)
    moment = FEB_10 + timedelta(days=9)
    first = await _run(unit_of_work, moment)
    assert (first["renewed"], first["expired"], first["invoiced"], first["suspended"]) == (
        1,
        1,
        1,
        1,
    )
    events = await _outbox_size(unit_of_work)
    balances_before = await check_invariants()

    second = await _run(unit_of_work, moment)
    assert not any(second.values()), second
    assert await _outbox_size(unit_of_work) == events
    assert await check_invariants() == balances_before


async def test_prepaid_due_soon_reminder_once_per_period(
    unit_of_work, add_subscriber, add_package, pay, topics
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    await pay(subscriber, 100_000, NOW - timedelta(minutes=1))
    service_id = await _activate(unit_of_work, subscriber, package)
    assert (await _run(unit_of_work, FEB_10 - timedelta(days=3)))["reminded_due_soon"] == 0
    assert (await _run(unit_of_work, FEB_10 - timedelta(days=2)))["reminded_due_soon"] == 1
    assert (await _run(unit_of_work, FEB_10 - timedelta(days=1)))["reminded_due_soon"] == 0
    reminders = await topics("reminder.")
    assert [(t, p["service_id"]) for t, p in reminders] == [("reminder.due_soon", service_id)]


def test_the_job_is_registered_every_five_minutes():
    from kiunga.platform.areas import assemble

    registry = assemble().job_registry()  # the worker's
    from kiunga.tenants.lifecycle import jobs

    spec = registry.periodics["lifecycle.run"]
    assert spec is jobs.lifecycle_run
    assert spec.schedule.minute == frozenset(range(0, 60, 5)) and spec.schedule.hour is None


async def test_batches_bill_like_one_invoice_at_a_time(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    """Small batches, several passes: numbered invoices, paid from credit when covered,
    open when not (postpaid), an invoice.issued event each, and the ledger invariants."""
    from kiunga.tenants.billing.models import Invoice, InvoiceStatus

    prepaid = await add_package(price=10_000, validity_count=1, validity_unit=ValidityUnit.DAY)
    postpaid = await add_package(
        price=20_000,
        billing_type=BillingType.POSTPAID,
        validity_count=1,
        validity_unit=ValidityUnit.DAY,
    )
    subscribers = [await add_subscriber() for _ in range(5)]
    for subscriber in subscribers[:3]:
        await pay(subscriber, 25_000, NOW - timedelta(minutes=1))
        await _activate(unit_of_work, subscriber, prepaid)
    for subscriber in subscribers[3:]:
        await _activate(unit_of_work, subscriber, postpaid)
    issued_before = len(await topics("invoice.issued"))
    async with unit_of_work() as session:
        report = await run_lifecycle(session, now=NOW + timedelta(days=2), batch_size=2)
    # Prepaid: 15,000 left each pays one more day, then expires; postpaid: two days billed.
    assert (report.renewed, report.expired, report.invoiced) == (3, 3, 4)
    async with unit_of_work() as session:
        invoices = (await session.scalars(select(Invoice).order_by(Invoice.id))).all()
        numbers = [invoice.number for invoice in invoices]
        assert numbers == [f"INV-{n:06d}" for n in range(1, len(invoices) + 1)]
        by_subscriber = {}
        for invoice in invoices:
            by_subscriber.setdefault(invoice.subscriber_id, []).append(invoice.status)
        for subscriber in subscribers[:3]:
            assert by_subscriber[subscriber] == [InvoiceStatus.PAID] * 2
            assert await ledger.balance(session, subscriber) == 5_000
        for subscriber in subscribers[3:]:
            assert by_subscriber[subscriber] == [InvoiceStatus.ISSUED] * 3
    assert len(await topics("invoice.issued")) - issued_before == 3 + 4
    await check_invariants()


async def test_payments_during_a_run_wait_for_it_and_never_deadlock(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    import asyncio

    package = await add_package(price=10_000, validity_count=1, validity_unit=ValidityUnit.DAY)
    subscribers = [await add_subscriber() for _ in range(30)]
    for subscriber in subscribers:
        await pay(subscriber, 10_000, NOW - timedelta(minutes=1))
        await _activate(unit_of_work, subscriber, package)
    moment = NOW + timedelta(days=1)

    async def run() -> None:
        async with unit_of_work() as session:
            await run_lifecycle(session, now=moment, batch_size=7)

    # Each payment lands before or after the run's hold on that subscriber; either way the
    # service ends up active (renewed from the credit, or restored by the payment).
    await asyncio.gather(
        run(), *(pay(subscriber, 10_000, moment) for subscriber in subscribers[::3])
    )
    async with unit_of_work() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Service.subscriber_id, Service.status).where(
                        Service.subscriber_id.in_(subscribers)
                    )
                )
            ).all()
        )
    assert {statuses[s] for s in subscribers[::3]} == {ServiceStatus.ACTIVE}
    await check_invariants()
