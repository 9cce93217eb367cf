"""The last look before sending: a non-urgent message that waited into the ISP's quiet
hours (its retry, a provider down) is put off to their end, in the ISP's time zone, urgent
ones go; a notification whose news went stale while it waited is cancelled with the reason.
Time is given explicitly where the rule is timed; the sender itself runs on the clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiunga.channels.messages import notifications, sender
from kiunga.channels.messages.holds import hold_back
from kiunga.channels.messages.models import Message, MessageChannel, MessageStatus
from kiunga.channels.messages.outbound import queue_message
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.models import Tenant
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType
from kiunga.tenants.lifecycle.run import run_lifecycle
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.services.settings import update_billing_settings
from kiunga.tenants.subscribers.models import SubscriberPhone
from sqlalchemy import select, update

from .conftest import register_sender
from fixtures.waiting import eventually

LAGOS = ZoneInfo("Africa/Lagos")  # UTC+1 all year: not the default Nairobi, not UTC
STAFF = Actor.staff(3, "ops@isp.example")


def lagos(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=LAGOS)


async def _in_zone(unit_of_work, tenant, zone: str) -> None:
    async with unit_of_work() as session:
        await session.execute(
            update(Tenant).where(Tenant.schema_name == tenant.schema).values(timezone=zone)
        )


async def _by_body(unit_of_work) -> dict[str, Message]:
    async with unit_of_work() as session:
        return {m.body: m for m in await session.scalars(select(Message).order_by(Message.id))}


async def _look(unit_of_work, now: datetime):
    async with unit_of_work() as session:
        return await hold_back(session, limit=50, now=now)


async def test_quiet_hours_across_midnight_in_the_isps_zone_put_off_what_waited(
    unit_of_work, tenant, channel_settings
):
    await _in_zone(unit_of_work, tenant, "Africa/Lagos")
    await channel_settings(quiet_hours_start=time(22, 0), quiet_hours_end=time(6, 0))
    noon = lagos(7, 12)
    async with unit_of_work() as session:
        # Queued at noon (not quiet): due at once, and still waiting at night (a retry's
        # backoff, Africa's Talking down...).
        for body, kind, urgent in (
            ("campaign", "campaign", False), ("receipt", "receipt", True),
            ("code", "sign_in_code", True), ("reply", "ticket_reply", True),
        ):  # fmt: skip
            await queue_message(
                session, phone="+254712000100", body=body, kind=kind, urgent=urgent, now=noon
            )
        # A retry due at 02:00 the next night.
        retry = await queue_message(
            session, phone="+254712000101", body="retry", kind="campaign", now=noon
        )
        retry.send_after, retry.attempts = lagos(8, 2), 1

    # 21:59: not quiet yet; nothing changes.
    assert (await _look(unit_of_work, lagos(7, 21, 59))).put_off == 0
    # 23:30 in Lagos (22:30 UTC): the campaign waits for 06:00 the next morning, Lagos time.
    held = await _look(unit_of_work, lagos(7, 23, 30))
    assert (held.put_off, held.quiet_until) == (1, lagos(8, 6))
    messages = await _by_body(unit_of_work)
    assert messages["campaign"].send_after == lagos(8, 6)
    assert messages["campaign"].status is MessageStatus.QUEUED
    for urgent in ("receipt", "code", "reply"):
        assert messages[urgent].send_after == noon
    assert messages["retry"].send_after == lagos(8, 2)  # not due yet: untouched
    # 02:30 past midnight: the retry now due waits for 06:00 the same morning.
    held = await _look(unit_of_work, lagos(8, 2, 30))
    assert (held.put_off, held.quiet_until) == (1, lagos(8, 6))
    assert (await _by_body(unit_of_work))["retry"].send_after == lagos(8, 6)
    # 06:00: quiet hours over, nothing put off any more.
    assert (await _look(unit_of_work, lagos(8, 6))).put_off == 0
    assert (await _by_body(unit_of_work))["campaign"].send_after == lagos(8, 6)


async def test_no_quiet_hours_or_hours_within_a_day(unit_of_work, tenant, channel_settings):
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    night = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # 02:00 in Nairobi
    async with unit_of_work() as session:
        queued = await queue_message(
            session, phone="+254712000102", body="c", kind="campaign", now=night
        )
    assert queued.send_after == night
    assert (await _look(unit_of_work, night)).put_off == 0
    # 13:00-14:00 in Nairobi (the default zone): 13:15 there is 10:15 UTC.
    await channel_settings(quiet_hours_start=time(13, 0), quiet_hours_end=time(14, 0))
    held = await _look(unit_of_work, datetime(2026, 12, 8, 10, 15, tzinfo=UTC))
    assert held.quiet_until == datetime(2026, 12, 8, 11, 0, tzinfo=UTC)
    assert held.put_off == 1
    assert (await _by_body(unit_of_work))["c"].send_after == held.quiet_until


async def test_the_sender_holds_a_retry_that_fell_into_quiet_hours_and_sends_urgent_ones(
    unit_of_work, tenant, at_account, at_emulator, channel_settings, start_worker, fast_retries
):
    """On the real clock: the ISP's quiet hours are set around the present moment, in its
    zone (and may span midnight, as the moment falls)."""
    await _in_zone(unit_of_work, tenant, "Africa/Lagos")
    local = utcnow().astimezone(LAGOS).replace(second=0, microsecond=0)
    start, end = (local - timedelta(hours=1)).time(), (local + timedelta(hours=1)).time()
    at = at_account()
    await channel_settings(at=at, quiet_hours_start=start, quiet_hours_end=end)
    earlier = utcnow() - timedelta(hours=3)  # before the quiet hours began
    async with unit_of_work() as session:
        reminder = await queue_message(
            session, phone="+254712000103", body="Pay by Friday", kind="campaign", now=earlier
        )
        # Its first try found Africa's Talking down; the retry is due now, in quiet hours.
        reminder.attempts, reminder.last_error = 1, "Africa's Talking unavailable: 503"
        await queue_message(
            session, phone="+254712000104", body="Paid KES 500", kind="receipt", urgent=True
        )
    await start_worker(register_sender, "quiet")

    async def settled():
        messages = await _by_body(unit_of_work)
        receipt, held = messages["Paid KES 500"], messages["Pay by Friday"]
        done = receipt.status is MessageStatus.SENT and held.send_after > utcnow()
        return messages if done else None

    messages = await eventually(settled, within=60)
    held = messages["Pay by Friday"]
    expected_end = datetime.combine(
        local.date() + timedelta(days=1 if end < local.time() else 0), end, tzinfo=LAGOS
    )
    assert held.status is MessageStatus.QUEUED and held.send_after == expected_end
    assert held.attempts == 1
    assert [m.to for m in at_emulator.state.messages_to() if m.username == at.username] == [
        "+254712000104"
    ]


async def test_news_gone_stale_while_waiting_is_cancelled_before_sending(
    unit_of_work, database, tenant, add_subscriber, add_package, channel_settings, start_worker
):
    """A due-soon reminder for an invoice paid meanwhile, and a suspension lifted, are
    cancelled at the sender's last look; what still holds is sent."""
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    async with unit_of_work() as session:
        await update_billing_settings(session, postpaid_due_days=5, reminder_days_before=2)
    package = await add_package(price=200_000, billing_type=BillingType.POSTPAID)
    start = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    services = {}
    for phone in ("+254712000105", "+254712000106"):
        subscriber = await add_subscriber()
        async with unit_of_work() as session:
            session.add(SubscriberPhone(subscriber_id=subscriber, phone=phone, is_primary=True))
            service = await create_service(
                session, NewService(subscriber_id=subscriber, package_id=package),
                actor=STAFF, now=start,
            )  # fmt: skip
            services[phone] = (subscriber, service.id)
    await start_worker(lambda r: r.add(*notifications.HANDLERS), "stale")
    # Two days before the first invoices are due: a reminder each.
    async with unit_of_work() as session:
        report = await run_lifecycle(session, now=start + timedelta(days=3, hours=1))
    assert report.reminded_due_soon == 2

    async def queued(*kinds):
        async with unit_of_work() as session:
            rows = list(await session.scalars(select(Message).order_by(Message.id)))
        return rows if all(sum(m.kind == k for m in rows) >= n for k, n in kinds) else None

    await eventually(lambda: queued(("due_soon", 2)))
    # One pays before the reminder went out; the other's service is suspended (told) and
    # restored again before the suspension notice went out.
    paying, other = services["+254712000105"], services["+254712000106"]
    async with unit_of_work() as session:
        await record_payment(
            session, paying[0], 200_000, method="mpesa", reference="QXSTALE01",
            received_at=utcnow(), actor=Actor.system("mpesa"),
        )  # fmt: skip
    async with unit_of_work() as session:
        await lifecycle.suspend_service(session, other[1], reason="unpaid", actor=STAFF)
    await eventually(lambda: queued(("suspended", 1), ("receipt", 1)))
    async with unit_of_work() as session:
        await lifecycle.restore_service(session, other[1], actor=STAFF)
    await eventually(lambda: queued(("restored", 1)))

    # Taken one at a time: a stale message at the head of the queue gives its place to the
    # next, which is looked at in turn.
    claimed = []
    while group := await sender.claim(database, tenant.schema, 1, sender.Timings()):
        assert len(group) == 1
        claimed += group
    by_kind = sorted((m.kind, m.phone) for m in claimed)
    assert by_kind == [
        ("activated", "+254712000105"), ("activated", "+254712000106"),
        ("due_soon", "+254712000106"), ("receipt", "+254712000105"),
        ("restored", "+254712000106"),
    ]  # fmt: skip
    async with unit_of_work() as session:
        cancelled = {
            m.kind: m
            for m in await session.scalars(
                select(Message).where(Message.status == MessageStatus.CANCELLED)
            )
        }
    assert sorted(cancelled) == ["due_soon", "suspended"]
    assert cancelled["due_soon"].phone == "+254712000105"
    assert cancelled["due_soon"].last_error == "no longer true: paid meanwhile"
    assert cancelled["suspended"].last_error == "no longer true: the service is active now"
    assert all(m.channel is MessageChannel.SMS for m in claimed)


async def test_a_check_that_cannot_be_made_sends_and_never_stops_the_queue(
    unit_of_work, channel_settings
):
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    now = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    async with unit_of_work() as session:
        odd = await emit(session, "service.suspended", {"service_id": "not a number"})
        for body, kind, key in (
            ("odd payload", "suspended", f"suspended:e{odd.id}"),
            ("event gone", "suspended", "suspended:e987654321"),
            ("service gone", "due_soon", "due_soon:s987654321:none"),
            ("not a notification", "due_soon", "bench:1"),
        ):
            await queue_message(
                session, phone="+254712000107", body=body, kind=kind, dedupe_key=key, now=now
            )
    held = await _look(unit_of_work, now)
    assert held.cancelled == 1
    messages = await _by_body(unit_of_work)
    assert messages["service gone"].status is MessageStatus.CANCELLED
    assert messages["service gone"].last_error == "no longer true: the service is gone"
    for body in ("odd payload", "event gone", "not a notification"):
        assert messages[body].status is MessageStatus.QUEUED, body
