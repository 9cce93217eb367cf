"""The sender, against the providers' emulators through the official SDKs: messages are
delivered once, Africa's Talking failing for a while delays them without losing or
doubling any, a refusal fails a message with its reason, a sender that died mid-request
is settled by the delivery report or resent after the grace, and WhatsApp's 24-hour rule
sends a template or falls back to SMS."""

from __future__ import annotations

from datetime import timedelta

from kiunga.channels.messages import sender
from kiunga.channels.messages.models import (
    ChannelContact,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.outbound import queue_message
from kiunga.channels.messages.receipts import apply_delivery_report
from kiunga.integrations.africastalking.client import AfricasTalkingSms
from kiunga.integrations.africastalking.forms import parse_delivery_report
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.queue import create_redis_pool
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.subscribers.models import SubscriberPhone
from sqlalchemy import select, update

from .conftest import emulator_json, register_sender
from fixtures.waiting import eventually

_DONE = (MessageStatus.SENT, MessageStatus.DELIVERED)


async def _messages(unit_of_work) -> list[Message]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def _all_settled(unit_of_work, *statuses) -> list[Message] | None:
    messages = await _messages(unit_of_work)
    wanted = statuses or (MessageStatus.SENT, MessageStatus.DELIVERED)
    return messages if messages and all(m.status in wanted for m in messages) else None


def _accepted(at_emulator, username: str) -> list[dict]:
    outbox = emulator_json(f"{at_emulator.url}/emulator/sms/outbox")
    items = outbox if isinstance(outbox, list) else outbox.get("messages", outbox.get("items"))
    return [m for m in items if m["username"] == username]


async def test_a_receipt_from_a_real_payment_reaches_the_phone_once(
    unit_of_work, add_subscriber, at_account, at_emulator, channel_settings, start_worker,
    fast_retries, reports_applied,
):  # fmt: skip
    at = at_account(delivery_report_url=f"{reports_applied.url}/at")
    await channel_settings(at=at)
    subscriber = await add_subscriber()
    async with unit_of_work() as session:
        session.add(SubscriberPhone(subscriber_id=subscriber, phone="+254733000001"))
    await start_worker(lambda r: register_sender(r, with_notifications=True), "receipt")
    async with unit_of_work() as session:
        await record_payment(
            session, subscriber, 50_000, method="mpesa", reference="QXRECEIPT1",
            received_at=utcnow(), actor=Actor.system("mpesa"),
        )  # fmt: skip
    messages = await eventually(
        lambda: _all_settled(unit_of_work, MessageStatus.DELIVERED), within=60
    )
    [receipt] = messages
    assert receipt.kind == "receipt" and receipt.attempts == 1
    assert (receipt.cost_micros, receipt.cost_currency) == (800_000, "KES")
    sent = _accepted(at_emulator, at.username)
    assert [(m["to"], m["message"], m["sender"]) for m in sent] == [
        ("+254733000001", receipt.body, "TESTISP")
    ]
    assert sent[0]["message_id"] == receipt.provider_id
    assert "KES 500.00" in receipt.body and "receipt QXRECEIPT1" in receipt.body


async def test_africas_talking_down_for_a_while_delays_without_loss_or_doubles(
    unit_of_work, at_account, at_emulator, channel_settings, start_worker, fast_retries
):
    at = at_account()
    await channel_settings(at=at)
    phones = [f"+25472200{n:04d}" for n in range(6)]
    await start_worker(register_sender, "outage")
    emulator_json(f"{at_emulator.url}/emulator/faults", "POST", status=503, count=4)
    async with unit_of_work() as session:
        for phone in phones:
            await queue_message(session, phone=phone, body=f"Hi {phone}", kind="t", urgent=True)
    messages = await eventually(lambda: _all_settled(unit_of_work), within=60)
    sent = _accepted(at_emulator, at.username)
    assert sorted(m["to"] for m in sent) == phones  # each once
    assert any(m.attempts > 1 for m in messages)
    assert all(m.provider_id for m in messages)
    stats = emulator_json(f"{at_emulator.url}/emulator/sms/stats")
    assert not [d for d in stats["duplicates"] if d["username"] == at.username]


async def test_a_refusal_fails_the_message_with_the_reason(
    unit_of_work, at_account, channel_settings, start_worker, fast_retries
):
    at = at_account(sender_ids=["OTHERISP"])
    await channel_settings(at=at)  # sends as TESTISP, which this app does not own
    await start_worker(register_sender, "refused")
    async with unit_of_work() as session:
        await queue_message(session, phone="+254722111111", body="x", kind="t", urgent=True)
    [failed] = await eventually(lambda: _all_settled(unit_of_work, MessageStatus.FAILED))
    assert "InvalidSenderId" in failed.last_error and failed.attempts == 1


async def test_a_sender_that_died_mid_request_sends_nothing_twice(
    unit_of_work, at_account, at_emulator, channel_settings, start_worker, fast_retries,
    reports_applied,
):  # fmt: skip
    at = at_account(delivery_report_url=f"{reports_applied.url}/at")
    await channel_settings(at=at)
    handed_over, never_left = "+254744000001", "+254744000002"
    async with unit_of_work() as session:
        for phone in (handed_over, never_left):
            await queue_message(session, phone=phone, body=f"for {phone}", kind="t", urgent=True)
        # A sender claimed both and died: one was handed to AT, the other never left.
        await session.execute(
            update(Message).values(
                status=MessageStatus.SENDING,
                attempts=1,
                claimed_until=utcnow() - timedelta(seconds=1),
            )
        )
    sms = AfricasTalkingSms(max_workers=2)
    try:
        await sms.send(at, to=handed_over, message=f"for {handed_over}", sender_id="TESTISP")
    finally:
        sms.close()
    await start_worker(register_sender, "doubt")
    # Nothing woke the sender yet: the next queued message does.
    async with unit_of_work() as session:
        await queue_message(session, phone="+254744000003", body="wake", kind="t", urgent=True)

    async def settled():
        messages = {m.phone: m for m in await _messages(unit_of_work)}
        done = messages[handed_over].status is MessageStatus.DELIVERED and messages[
            never_left
        ].status in (MessageStatus.SENT, MessageStatus.DELIVERED)
        return messages if done else None

    messages = await eventually(settled, within=60)
    sent = _accepted(at_emulator, at.username)
    assert sorted(m["to"] for m in sent) == [handed_over, never_left, "+254744000003"]
    # Settled by the report, under AT's id; the other resent once the grace passed.
    by_phone = {m["to"]: m for m in sent}
    assert messages[handed_over].provider_id == by_phone[handed_over]["message_id"]
    assert messages[handed_over].attempts == 1
    assert messages[never_left].attempts == 2


async def test_a_report_the_application_did_not_take_comes_again_and_settles_the_doubt(
    unit_of_work, at_account, at_emulator, channel_settings, start_worker, fast_retries,
    callback_recorder, monkeypatch,
):  # fmt: skip
    """A sender died after handing a message to AT; AT's first delivery report found the
    application unable to take it (503). The report comes again, settles the message, and
    the message is not sent a second time (the grace is long: only the report can settle
    it in time)."""
    monkeypatch.setenv("KIUNGA_MESSAGES_DOUBT_GRACE", "300")
    callback_recorder.answer("/at", "busy", status=503)
    at = at_account(delivery_report_url=f"{callback_recorder.url}/at")
    await channel_settings(at=at)
    phone = "+254745000001"
    async with unit_of_work() as session:
        await queue_message(session, phone=phone, body="handed over", kind="t", urgent=True)
        await session.execute(
            update(Message).values(
                status=MessageStatus.SENDING,
                attempts=1,
                claimed_until=utcnow() - timedelta(seconds=1),
            )
        )
    sms = AfricasTalkingSms(max_workers=2)
    try:
        await sms.send(at, to=phone, message="handed over", sender_id="TESTISP")
    finally:
        sms.close()
    await eventually(lambda: callback_recorder.at("/at") or None, within=30)
    callback_recorder.answer("/at", "OK")
    # The report again, this time taken (before the fix AT's emulator never retried).
    await eventually(lambda: callback_recorder.at("/at")[1:] or None, within=30)
    async with unit_of_work() as session:
        await apply_delivery_report(
            session, parse_delivery_report(callback_recorder.at("/at")[-1].form)
        )
    await start_worker(register_sender, "report-again")
    async with unit_of_work() as session:
        await queue_message(session, phone="+254745000002", body="wake", kind="t", urgent=True)

    async def settled():
        messages = {m.phone: m for m in await _messages(unit_of_work)}
        wake = messages.get("+254745000002")
        return messages if wake is not None and wake.status in _DONE else None

    messages = await eventually(settled, within=60)
    assert messages[phone].status is MessageStatus.DELIVERED
    assert messages[phone].attempts == 1
    assert [m["to"] for m in _accepted(at_emulator, at.username)] == [phone, "+254745000002"]


async def test_a_sender_killed_before_the_request_left_sends_it_at_once_not_after_the_grace(
    unit_of_work, database, tenant, redis_url, at_account, at_emulator, channel_settings,
    start_worker, fast_retries, reports_applied, monkeypatch,
):  # fmt: skip
    """A drain claimed two messages and was killed: one was handed to AT (its id taken out
    of the unsent set, as the drain does just before the request), the other never was.
    Once the claims lapse, the one that never left is sent at once; the one that did is in
    doubt and settled by its report, whatever the grace."""
    monkeypatch.setenv("KIUNGA_MESSAGES_DOUBT_GRACE", "300")
    at = at_account(delivery_report_url=f"{reports_applied.url}/at")
    await channel_settings(at=at)
    handed_over, never_left = "+254746000001", "+254746000002"
    async with unit_of_work() as session:
        for phone in (handed_over, never_left):
            await queue_message(session, phone=phone, body=f"for {phone}", kind="t", urgent=True)
    timings = sender.Timings.from_environment()
    redis = await create_redis_pool(redis_url, "unsent-test")
    try:
        unsent = sender.Unsent(redis, tenant.slug, timings)
        group = await sender.claim(database, tenant.schema, 10, timings)
        assert sorted(m.phone for m in group) == [handed_over, never_left]
        await unsent.add([m.id for m in group])
        [first] = [m for m in group if m.phone == handed_over]
        assert await unsent.take([first.id]) == {first.id}
        sms = AfricasTalkingSms(max_workers=2)
        try:
            await sms.send(at, to=handed_over, message=f"for {handed_over}", sender_id="TESTISP")
        finally:
            sms.close()
        # The drain is dead: its claims lapse.
        async with unit_of_work() as session:
            await session.execute(
                update(Message).values(claimed_until=utcnow() - timedelta(seconds=1))
            )
        await start_worker(register_sender, "never-left")
        async with unit_of_work() as session:
            await queue_message(session, phone="+254746000003", body="wake", kind="t", urgent=True)

        async def settled():
            messages = {m.phone: m for m in await _messages(unit_of_work)}
            done = all(m.status in _DONE for m in messages.values())
            return messages if done and len(messages) == 3 else None

        messages = await eventually(settled, within=60)
    finally:
        await redis.aclose()
    sent = _accepted(at_emulator, at.username)
    assert sorted(m["to"] for m in sent) == [handed_over, never_left, "+254746000003"]
    assert messages[handed_over].status is MessageStatus.DELIVERED
    assert messages[handed_over].attempts == 1
    # Its first try never reached AT: one attempt, not a resend.
    assert messages[never_left].attempts == 1


async def test_whatsapp_within_24_hours_a_template_outside_else_sms(
    unit_of_work, at_account, at_emulator, twilio_account, twilio_emulator, channel_settings,
    start_worker, fast_retries, reports_applied,
):  # fmt: skip
    at = at_account()
    credentials, whatsapp_from = twilio_account(status_callback_url=f"{reports_applied.url}/twilio")
    content_sid = "HX" + "a1" * 16
    emulator_json(
        f"{twilio_emulator.url}/emulator/templates", "POST",
        content_sid=content_sid, body="Receipt: {{1}}", account_sid=credentials.account_sid,
    )  # fmt: skip
    await channel_settings(
        at=at, twilio=(credentials, whatsapp_from), whatsapp_templates={"receipt": content_sid}
    )
    recent, old_receipt, old_reminder, stale = (
        "+254755000001", "+254755000002", "+254755000003", "+254755000004",
    )  # fmt: skip
    now = utcnow()
    async with unit_of_work() as session:
        for phone, hours in ((recent, 1), (old_receipt, 30), (old_reminder, 30), (stale, 2)):
            session.add(
                ChannelContact(
                    phone=phone,
                    preferred_channel=MessageChannel.WHATSAPP,
                    whatsapp_last_inbound_at=now - timedelta(hours=hours),
                )
            )
    # Twilio knows the recent writer; the stale one's window closed there (we missed it).
    emulator_json(
        f"{twilio_emulator.url}/emulator/whatsapp/window", "POST",
        phone=recent, sender=whatsapp_from, hours_ago=1,
    )  # fmt: skip
    await start_worker(register_sender, "whatsapp")
    async with unit_of_work() as session:
        for phone, kind in ((recent, "receipt"), (old_receipt, "receipt"),
                            (old_reminder, "due_soon"), (stale, "receipt")):  # fmt: skip
            await queue_message(session, phone=phone, body=f"{kind} text", kind=kind, urgent=True)

    async def done():
        messages = await _messages(unit_of_work)
        waiting = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.IN_DOUBT)
        return (
            messages
            if len(messages) == 6 and not [m for m in messages if m.status in waiting]
            else None
        )

    messages = await eventually(done, within=60)
    whatsapp = {m.phone: m for m in messages if m.channel is MessageChannel.WHATSAPP}
    sms = {m.phone: m for m in messages if m.channel is MessageChannel.SMS}
    assert whatsapp[recent].status in (MessageStatus.SENT, MessageStatus.DELIVERED,
                                       MessageStatus.READ)  # fmt: skip
    assert whatsapp[recent].template_sid is None
    assert whatsapp[old_receipt].template_sid == content_sid
    # No template for a reminder outside the window: SMS instead, the WhatsApp row cancelled.
    assert whatsapp[old_reminder].status is MessageStatus.CANCELLED
    assert sms[old_reminder].fallback_of == whatsapp[old_reminder].id
    # Twilio took the free text and WhatsApp refused it (63016, by status callback): SMS.
    assert whatsapp[stale].status is MessageStatus.FAILED
    assert whatsapp[stale].failure_reason == "63016" and "63016" in whatsapp[stale].last_error
    assert sms[stale].fallback_of == whatsapp[stale].id
    assert sorted(sms) == [old_reminder, stale]
    sent_sms = _accepted(at_emulator, at.username)
    assert sorted(m["to"] for m in sent_sms) == [old_reminder, stale]
    outbox = emulator_json(f"{twilio_emulator.url}/emulator/whatsapp/outbox")
    items = outbox if isinstance(outbox, list) else outbox.get("messages", outbox.get("items"))
    mine = [m for m in items if m.get("from_") in (whatsapp_from, f"whatsapp:{whatsapp_from}")
            or m.get("from") in (whatsapp_from, f"whatsapp:{whatsapp_from}")]  # fmt: skip
    assert len(mine) == 3, items[-5:]


async def test_without_sms_settings_messages_wait_and_go_once_the_isp_saves_them(
    unit_of_work, tenant, at_account, at_emulator, start_worker, fast_retries
):
    """An ISP with no Africa's Talking app yet: its SMS are neither tried nor failed (no
    attempt spent, no backoff), they wait with a clear note, and go as soon as the ISP
    saves its channel settings, woken by that save (the safety net's recheck is minutes
    away)."""
    from kiunga.channels.messages.outbound import WAITING_FOR_SETTINGS
    from kiunga.channels.messages.settings import ChannelSettingsChange, update_settings

    await start_worker(register_sender, "waiting")
    phones = ["+254722300001", "+254722300002"]
    async with unit_of_work() as session:
        for phone in phones:
            await queue_message(session, phone=phone, body=f"Hi {phone}", kind="t", urgent=True)

    async def waiting() -> list[Message] | None:
        messages = await _messages(unit_of_work)
        held = [
            m
            for m in messages
            if m.status is MessageStatus.QUEUED
            and (m.last_error or "").startswith(WAITING_FOR_SETTINGS)
        ]
        return messages if len(held) == len(phones) else None

    held = await eventually(waiting, within=60)
    assert all(m.attempts == 0 for m in held), [m.attempts for m in held]
    assert all(m.send_after > utcnow() + timedelta(minutes=5) for m in held)
    at = at_account()
    async with unit_of_work() as session:
        await update_settings(
            session,
            tenant.id,
            ChannelSettingsChange(
                at_username=at.username, at_api_key=at.api_key, at_base_url=at.base_url,
                at_sender_id="TESTISP",
            ),
        )  # fmt: skip
    sent = await eventually(lambda: _all_settled(unit_of_work), within=60)
    assert all(m.attempts == 1 and m.provider_id and m.last_error is None for m in sent)
    assert sorted(m["to"] for m in _accepted(at_emulator, at.username)) == phones
