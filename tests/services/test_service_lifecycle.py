"""Service functions on a real tenant schema, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.invoices import open_amount
from kiunga.tenants.billing.models import CreditNote, Invoice, InvoiceLine
from kiunga.tenants.catalog.models import BillingType
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.credentials import decrypt_password
from kiunga.tenants.services.errors import ServiceConflict, ServiceError
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus, SubscriberStatusChange
from sqlalchemy import select

STAFF = Actor.staff(3, "ops@isp.example")
NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


async def _new(unit_of_work, subscriber_id, package_id, **kwargs):
    options = {k: kwargs.pop(k) for k in ("allow_unpaid", "activate") if k in kwargs}
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(subscriber_id=subscriber_id, package_id=package_id, **kwargs),
            actor=STAFF,
            now=kwargs.pop("now", NOW),
            **options,
        )
        return service.id


async def _service(unit_of_work, service_id) -> Service:
    async with unit_of_work() as session:
        return await session.get(Service, service_id)


async def test_postpaid_activation_bills_the_first_period_at_once(
    unit_of_work, add_subscriber, add_package, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=200_000, billing_type=BillingType.POSTPAID)
    service_id = await _new(
        unit_of_work, subscriber, package, username="achieng", password="s3cret"
    )

    service = await _service(unit_of_work, service_id)
    assert service.status is ServiceStatus.ACTIVE
    assert (service.activated_at, service.period_start) == (NOW, NOW)
    assert service.expires_at == datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
    assert service.password_encrypted != "s3cret"
    assert decrypt_password(service.password_encrypted) == "s3cret"
    async with unit_of_work() as session:
        line = await session.scalar(select(InvoiceLine).where(InvoiceLine.service_id == service_id))
        invoice = await session.get(Invoice, line.invoice_id)
        assert (line.amount, line.period_start, line.period_end) == (
            200_000,
            NOW,
            service.expires_at,
        )
        assert invoice.due_at == NOW + timedelta(days=7)
        assert await ledger.balance(session, subscriber) == -200_000
        assert (await session.get(Subscriber, subscriber)).status is SubscriberStatus.ACTIVE
        history = await session.scalar(
            select(SubscriberStatusChange).where(SubscriberStatusChange.subscriber_id == subscriber)
        )
        assert history.to_status is SubscriberStatus.ACTIVE and history.changed_by == STAFF.label
    activated = await topics("service.")
    assert [t for t, _ in activated] == ["service.activated"]
    assert activated[0][1]["service_id"] == service_id
    assert activated[0][1]["package_id"] == package
    assert "s3cret" not in str(activated)
    await check_invariants()


async def test_prepaid_activation_is_paid_from_credit(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    await pay(subscriber, 150_000, NOW - timedelta(hours=1))
    service_id = await _new(unit_of_work, subscriber, package)
    assert (await _service(unit_of_work, service_id)).status is ServiceStatus.ACTIVE
    async with unit_of_work() as session:
        assert await ledger.balance(session, subscriber) == 50_000
        assert await open_amount(session, subscriber) == 0
    await check_invariants()


async def test_prepaid_without_credit_stays_pending_until_paid(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    service_id = await _new(unit_of_work, subscriber, package)
    service = await _service(unit_of_work, service_id)
    assert service.status is ServiceStatus.PENDING and service.expires_at is None
    async with unit_of_work() as session:
        assert await ledger.balance(session, subscriber) == 0  # nothing billed

    await pay(subscriber, 60_000, NOW + timedelta(hours=1))
    assert (await _service(unit_of_work, service_id)).status is ServiceStatus.PENDING
    paid_at = NOW + timedelta(hours=2)
    await pay(subscriber, 40_000, paid_at)  # now covered: activated in the payment's commit
    service = await _service(unit_of_work, service_id)
    assert service.status is ServiceStatus.ACTIVE
    assert (service.activated_at, service.expires_at) == (
        paid_at,
        datetime(2026, 2, 10, 10, tzinfo=UTC),
    )
    assert [t for t, _ in await topics("service.")] == ["service.activated"]
    await check_invariants()


async def test_staff_may_activate_prepaid_on_trust(
    unit_of_work, add_subscriber, add_package, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    service_id = await _new(unit_of_work, subscriber, package, allow_unpaid=True)
    assert (await _service(unit_of_work, service_id)).status is ServiceStatus.ACTIVE
    async with unit_of_work() as session:
        assert await open_amount(session, subscriber) == 100_000
    await check_invariants()


async def test_a_second_overlapping_activation_is_refused(
    unit_of_work, add_subscriber, add_package, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(billing_type=BillingType.POSTPAID)
    service_id = await _new(unit_of_work, subscriber, package, username="otieno")
    with pytest.raises(ServiceConflict) as refused:
        async with unit_of_work() as session:
            await lifecycle.activate_service(session, service_id, actor=STAFF, now=NOW)
    assert refused.value.field == "service_id" and "already active" in refused.value.message
    # The same username on a second service: refused too, whatever its case.
    with pytest.raises(ServiceConflict) as taken:
        await _new(unit_of_work, subscriber, package, username="OTIENO")
    assert taken.value.field == "username"
    async with unit_of_work() as session:
        assert (
            len(
                (
                    await session.scalars(
                        select(Service).where(Service.subscriber_id == subscriber)
                    )
                ).all()
            )
            == 1
        )
        assert await open_amount(session, subscriber) == 150_000  # billed once
    await check_invariants()


async def test_unknown_package_names_package_id(unit_of_work, add_subscriber):
    subscriber = await add_subscriber()
    with pytest.raises(ServiceError) as refused:
        await _new(unit_of_work, subscriber, 987_654)
    assert refused.value.field == "package_id" and "987654" in refused.value.message
    async with unit_of_work() as session:
        assert (
            await session.scalars(select(Service).where(Service.subscriber_id == subscriber))
        ).all() == []


async def test_suspend_restore_terminate_write_events_and_follow_the_subscriber(
    unit_of_work, add_subscriber, add_package, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(billing_type=BillingType.POSTPAID)
    service_id = await _new(
        unit_of_work, subscriber, package, username="wanjiru", static_ip="10.0.0.9"
    )
    async with unit_of_work() as session:
        await lifecycle.suspend_service(
            session, service_id, reason="router swap", actor=STAFF, now=NOW
        )
    async with unit_of_work() as session:
        assert (await session.get(Subscriber, subscriber)).status is SubscriberStatus.SUSPENDED
        with pytest.raises(ServiceConflict):
            await lifecycle.suspend_service(session, service_id, reason="again", actor=STAFF)
    async with unit_of_work() as session:
        await lifecycle.restore_service(session, service_id, actor=STAFF)
    async with unit_of_work() as session:
        assert (await session.get(Subscriber, subscriber)).status is SubscriberStatus.ACTIVE
        await lifecycle.terminate_service(session, service_id, reason="moved away", actor=STAFF)
    async with unit_of_work() as session:
        assert (await session.get(Subscriber, subscriber)).status is SubscriberStatus.TERMINATED
    assert [t for t, _ in await topics("service.")] == [
        "service.activated",
        "service.suspended",
        "service.restored",
        "service.terminated",
    ]
    # A terminated service frees its username and address for a new subscriber.
    other = await add_subscriber()
    await _new(unit_of_work, other, package, username="wanjiru", static_ip="10.0.0.9")
    await check_invariants()


async def test_change_package_prorates_in_whole_cents(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    subscriber = await add_subscriber()
    # 30-day periods so the shares are easy to check by hand.
    from kiunga.tenants.catalog.models import ValidityUnit

    basic = await add_package(price=100_000, validity_count=30, validity_unit=ValidityUnit.DAY)
    faster = await add_package(price=250_001, validity_count=30, validity_unit=ValidityUnit.DAY)
    await pay(subscriber, 400_000, NOW - timedelta(minutes=5))
    service_id = await _new(unit_of_work, subscriber, basic)
    ten_days_in = NOW + timedelta(days=10)
    async with unit_of_work() as session:
        await lifecycle.change_package(session, service_id, faster, actor=STAFF, now=ten_days_in)

    # 20 of 30 days left: credit 100,000 × 2/3 = 66,666.67 → 66,667 (half up);
    # charge 250,001 × 2/3 = 166,667.33 → 166,667.
    async with unit_of_work() as session:
        note = await session.scalar(
            select(CreditNote).where(CreditNote.subscriber_id == subscriber)
        )
        assert note.amount == 66_667
        line = (
            await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.service_id == service_id)
                .order_by(InvoiceLine.id)
            )
        ).all()[-1]
        assert (line.amount, line.period_start, line.period_end) == (
            166_667,
            ten_days_in,
            NOW + timedelta(days=30),
        )
        service = await session.get(Service, service_id)
        assert service.package_id == faster and service.expires_at == NOW + timedelta(days=30)
        assert await ledger.balance(session, subscriber) == 400_000 - 100_000 + 66_667 - 166_667
    changed = await topics("service.changed")
    assert changed[0][1] | {} == changed[0][1]
    assert (changed[0][1]["credit"], changed[0][1]["charge"], changed[0][1]["from_package_id"]) == (
        66_667,
        166_667,
        basic,
    )
    await check_invariants()


async def test_change_package_refused_when_prepaid_credit_is_short(
    unit_of_work, add_subscriber, add_package, pay, check_invariants
):
    subscriber = await add_subscriber()
    basic = await add_package(price=100_000)
    premium = await add_package(price=900_000)
    await pay(subscriber, 100_000, NOW - timedelta(minutes=5))
    service_id = await _new(unit_of_work, subscriber, basic)
    with pytest.raises(ServiceError) as refused:
        async with unit_of_work() as session:
            await lifecycle.change_package(session, service_id, premium, actor=STAFF, now=NOW)
    assert refused.value.field == "package_id"
    assert (await _service(unit_of_work, service_id)).package_id == basic
    await check_invariants()


def test_share_rounds_half_up():
    from kiunga.tenants.services.proration import share

    assert share(100, 1, 2) == 50
    assert share(1, 1, 2) == 1  # 0.5 → 1
    assert share(1, 1, 3) == 0  # 0.33 → 0
    assert share(2, 1, 3) == 1  # 0.67 → 1
    assert share(100_000, 20, 30) == 66_667
    assert share(500, 40, 30) == 500  # never more than the price


async def test_expire_then_renew_by_hand(
    unit_of_work, add_subscriber, add_package, pay, topics, check_invariants
):
    subscriber = await add_subscriber()
    package = await add_package(price=100_000)
    await pay(subscriber, 100_000, NOW - timedelta(minutes=1))
    service_id = await _new(unit_of_work, subscriber, package)
    end = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
    async with unit_of_work() as session:
        with pytest.raises(ServiceConflict):
            await lifecycle.expire_service(session, service_id, actor=STAFF, now=end - timedelta(1))
    async with unit_of_work() as session:
        await lifecycle.expire_service(session, service_id, actor=STAFF, now=end)
    assert (await _service(unit_of_work, service_id)).status is ServiceStatus.EXPIRED
    # Staff renew it later on trust: a new period from now, the invoice left open.
    later = end + timedelta(days=3)
    async with unit_of_work() as session:
        await lifecycle.renew_service(session, service_id, actor=STAFF, now=later)
    service = await _service(unit_of_work, service_id)
    assert (service.status, service.period_start) == (ServiceStatus.ACTIVE, later)
    async with unit_of_work() as session:
        assert await open_amount(session, subscriber) == 100_000
        assert (await session.get(Subscriber, subscriber)).status is SubscriberStatus.ACTIVE
    assert [t for t, _ in await topics("service.")] == [
        "service.activated",
        "service.expired",
        "service.restored",
    ]
    await check_invariants()
