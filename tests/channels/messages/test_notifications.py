"""Notifications from the other areas' real events, handled by a real worker (its relay
and handlers): each renders the right text in the subscriber's language and is queued
once, even when every event is handled a second time."""

from __future__ import annotations

from datetime import timedelta

from kiunga.channels.messages import notifications
from kiunga.channels.messages.models import Message, MessageChannel, MessageTemplate
from kiunga.channels.portal.purchase_hooks import fulfil_purchase
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import OutboxDelivery, OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import ServiceType
from kiunga.tenants.lifecycle.run import run_lifecycle
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.models import Service
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Language, Subscriber, SubscriberPhone
from kiunga.tenants.tickets import service as tickets
from kiunga.tenants.tickets.models import Channel
from kiunga.tenants.vouchers.models import HotspotPurchase, PurchaseStatus
from sqlalchemy import delete, func, select, update

from fixtures.waiting import eventually

STAFF = Actor.staff(3, "ops@isp.example")
PHONE = "+254712000001"
PHONE_SW = "+254712000002"


def register(registry):
    registry.add(*notifications.HANDLERS)


async def _phone(unit_of_work, subscriber_id: int, phone: str, language=None) -> None:
    async with unit_of_work() as session:
        session.add(SubscriberPhone(subscriber_id=subscriber_id, phone=phone, is_primary=True))
        if language is not None:
            (await session.get(Subscriber, subscriber_id)).language = language


async def _all_handled(unit_of_work) -> bool:
    async with unit_of_work() as session:
        waiting = await session.scalar(
            select(func.count(OutboxEvent.id)).where(
                OutboxEvent.completed_at.is_(None), OutboxEvent.failed_at.is_(None)
            )
        )
        return waiting == 0


async def _messages(unit_of_work) -> list[Message]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def _has_kind(unit_of_work, kind: str) -> bool:
    return any(m.kind == kind for m in await _messages(unit_of_work))


async def test_news_no_longer_true_when_handled_is_not_told(
    unit_of_work, add_subscriber, add_package, start_worker
):
    amina = await add_subscriber()
    await _phone(unit_of_work, amina, PHONE)
    package = await add_package(price=150_000, name="Home 10")
    async with unit_of_work() as session:
        service = await create_service(
            session, NewService(subscriber_id=amina, package_id=package), actor=STAFF,
            allow_unpaid=True, now=utcnow(),
        )  # fmt: skip
        service_id = service.id
    # Suspended and lifted again before any worker ran: the suspension is old news.
    async with unit_of_work() as session:
        await lifecycle.suspend_service(session, service_id, reason="unpaid", actor=STAFF)
    async with unit_of_work() as session:
        await lifecycle.restore_service(session, service_id, actor=STAFF)
    await start_worker(register, "notify")
    await eventually(lambda: _all_handled(unit_of_work))
    assert sorted(m.kind for m in await _messages(unit_of_work)) == ["activated", "restored"]


async def test_each_event_tells_the_subscriber_once(
    unit_of_work, add_subscriber, add_package, start_worker
):
    amina = await add_subscriber()
    await _phone(unit_of_work, amina, PHONE)
    baraka = await add_subscriber()
    await _phone(unit_of_work, baraka, PHONE_SW, Language.SWAHILI)
    package = await add_package(price=150_000, name="Home 10")
    await start_worker(register, "notify")

    # An ISP's own receipt text, in English only; Swahili keeps the catalogue's.
    async with unit_of_work() as session:
        session.add(MessageTemplate(kind="receipt", language="en", body="Paid {amount}, {name}!"))
    now = utcnow()
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(subscriber_id=amina, package_id=package),
            actor=STAFF,
            allow_unpaid=True,
            now=now,
        )
        service_id = service.id
    # Told only while true: the activation too, so the suspension waits until it is told
    # (a worker slower than this test would rightly say nothing of an activation undone).
    await eventually(lambda: _has_kind(unit_of_work, "activated"))
    for subscriber_id in (amina, baraka):
        async with unit_of_work() as session:
            await record_payment(
                session,
                subscriber_id,
                150_000,
                method="mpesa",
                reference=f"QX{subscriber_id:08d}",
                received_at=now,
                actor=Actor.system("mpesa"),
            )
    # Told only while true: the suspension waits until the activation has been told, and
    # the restore until the suspension has been.
    await eventually(lambda: _has_kind(unit_of_work, "activated"))
    async with unit_of_work() as session:
        await lifecycle.suspend_service(session, service_id, reason="unpaid", actor=STAFF)
    await eventually(lambda: _has_kind(unit_of_work, "suspended"))
    async with unit_of_work() as session:
        await lifecycle.restore_service(session, service_id, actor=STAFF)
    async with unit_of_work() as session:
        expires_at = (await session.get(Service, service_id)).expires_at
        await run_lifecycle(session, now=expires_at - timedelta(days=1))
    async with unit_of_work() as session:
        ticket = await tickets.open_ticket(
            session, subject="No internet", category="connectivity", subscriber_id=amina,
            channel=Channel.WEB, actor=STAFF,
        )  # fmt: skip
        by_sms = await tickets.open_ticket(
            session, subject="Slow", category="connectivity", subscriber_id=amina,
            channel=Channel.SMS, author_kind="subscriber", body="slow since morning",
        )  # fmt: skip
    async with unit_of_work() as session:
        await tickets.add_message(session, ticket.id, body="A technician comes at 2 pm.")
        await tickets.add_message(session, by_sms.id, body="We are on it.", actor=STAFF)
        await tickets.change_status(session, ticket.id, "resolved", actor=STAFF)
    await eventually(lambda: _all_handled(unit_of_work))

    messages = await _messages(unit_of_work)
    texts = [(m.kind, m.phone, m.body) for m in messages]
    kinds = sorted(m.kind for m in messages)
    assert kinds == sorted(
        ["activated", "receipt", "receipt", "suspended", "restored", "due_soon",
         "ticket_opened", "ticket_reply", "ticket_reply", "ticket_status"]
    ), texts  # fmt: skip
    by_kind = {}
    for m in messages:
        by_kind.setdefault(m.kind, []).append(m)
    receipts = {m.phone: m for m in by_kind["receipt"]}
    assert receipts[PHONE].body == "Paid KES 1,500.00, Achieng!"
    assert receipts[PHONE_SW].body.endswith("Salio lako ni KES 1,500.00.")  # in credit
    assert "tumepokea KES 1,500.00" in receipts[PHONE_SW].body
    assert receipts[PHONE_SW].language == "sw" and receipts[PHONE].urgent
    assert "Home 10" in by_kind["due_soon"][0].body and not by_kind["due_soon"][0].urgent
    opened = by_kind["ticket_opened"][0].body
    assert opened.endswith(f"{ticket.reference} (No internet). We will get back to you.")
    replies = {m.ticket_id: m for m in by_kind["ticket_reply"]}
    assert replies[ticket.id].body.endswith(f"{ticket.reference}: A technician comes at 2 pm.")
    # The ticket that came by SMS is answered by SMS.
    assert replies[by_sms.id].channel is MessageChannel.SMS
    assert by_kind["ticket_status"][0].body.endswith("is now resolved.")

    # Every event handled again (as after a lost acknowledgement): nothing new is queued.
    async with unit_of_work() as session:
        await session.execute(delete(OutboxDelivery))
        await session.execute(
            update(OutboxEvent).values(dispatched_at=None, completed_at=None, failed_at=None)
        )
    # (the relay's sweep finds them again)
    await eventually(lambda: _all_handled(unit_of_work))
    assert len(await _messages(unit_of_work)) == len(messages)


async def test_a_hotspot_purchase_sends_the_code_and_no_receipt(
    unit_of_work, add_package, start_worker
):
    package = await add_package(
        price=2_000, name="Hour", service_type=ServiceType.HOTSPOT, sold_on_portal=True,
        rate_limit="2M/2M",
    )  # fmt: skip
    await start_worker(register, "voucher")
    async with unit_of_work() as session:
        buyer = Subscriber(account_number="H0001", name="Wanjiru")
        session.add(buyer)
        await session.flush()
        purchase = HotspotPurchase(
            token="t" * 32, package_id=package, phone=PHONE, subscriber_id=buyer.id,
            status=PurchaseStatus.PENDING, language="sw",
        )  # fmt: skip
        session.add(purchase)
        await session.flush()
        outcome = await record_payment(
            session, buyer.id, 2_000, method="mpesa", reference="QXHOT0001",
            received_at=utcnow(), actor=Actor.system("mpesa"),
        )  # fmt: skip
        voucher = await fulfil_purchase(session, purchase, outcome.payment)
    await eventually(lambda: _all_handled(unit_of_work))
    messages = await _messages(unit_of_work)
    assert [(m.kind, m.phone, m.channel) for m in messages] == [
        ("voucher_code", PHONE, MessageChannel.SMS)
    ]
    assert voucher.code in messages[0].body and messages[0].language == "sw"
    assert "nambari ya vocha" in messages[0].body
