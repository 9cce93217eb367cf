"""WhatsApp's 24-hour rule as Twilio tells it: free text is taken (201) whatever the window,
and WhatsApp's refusal comes later as a signed status callback `failed`, ErrorCode 63016.
End to end: a real worker sends through the SDK to the Twilio emulator, whose signed
callback reaches the ISP's callback URL over real HTTP; the WhatsApp message fails with a
reason, the contact's window is known closed, and the text goes by SMS exactly once, however
often and in whatever order the refusal is told."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import timedelta
from urllib.parse import urlencode

import httpx
from kiunga.channels.messages import sender
from kiunga.channels.messages import settings as channel_settings_module
from kiunga.channels.messages.models import (
    ChannelCallback,
    ChannelContact,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.outbound import queue_message
from kiunga.channels.messages.receipts import apply_whatsapp_status
from kiunga.channels.messages.settings import ChannelSettingsChange, callback_token, settings_row
from kiunga.channels.messages.settings import update_settings as save_settings
from kiunga.integrations.twilio.interfaces import StatusCallback
from kiunga.integrations.twilio.signature import SIGNATURE_HEADER, sign
from kiunga.platform.db.base import utcnow
from sqlalchemy import select

from .conftest import emulator_json, register_sender
from fixtures.waiting import eventually

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def a_phone() -> str:
    return f"+2547{secrets.randbelow(10**8):08d}"


async def _messages(unit_of_work, schema) -> list[Message]:
    async with unit_of_work(schema) as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def test_a_63016_callback_fails_the_message_and_sends_one_sms(
    kiunga, monkeypatch, settings, make_tenant, unit_of_work, at_account, at_emulator,
    twilio_account, twilio_emulator, start_worker, fast_retries,
):  # fmt: skip
    # The ISP's callback URLs are where the app listens (Twilio signs that exact URL).
    public = dataclasses.replace(settings, public_url=kiunga.url)
    monkeypatch.setattr(channel_settings_module, "get_settings", lambda: public)
    isp = make_tenant("cbw")
    at = at_account()
    async with unit_of_work(isp.schema) as session:
        await save_settings(
            session,
            isp.id,
            ChannelSettingsChange(
                at_username=at.username, at_api_key=at.api_key, at_base_url=at.base_url,
                at_sender_id="TESTISP", quiet_hours_start="", quiet_hours_end="",
            ),
        )  # fmt: skip
        token = callback_token(await settings_row(session))
    status_url = f"{kiunga.url}/hooks/channels/{token}/whatsapp/status"
    # No status URL on the Twilio account: the sender names it on every message.
    twilio, whatsapp_from = twilio_account()
    async with unit_of_work(isp.schema) as session:
        await save_settings(
            session,
            isp.id,
            ChannelSettingsChange(
                twilio_account_sid=twilio.account_sid, twilio_auth_token=twilio.auth_token,
                whatsapp_from=whatsapp_from, twilio_base_url=twilio.base_url,
            ),
        )  # fmt: skip
    phone = a_phone()
    # Kiunga believes the subscriber wrote two hours ago; WhatsApp never saw it (a message
    # to another of the ISP's numbers, say): free text goes, and is refused after.
    async with unit_of_work(isp.schema) as session:
        session.add(
            ChannelContact(
                phone=phone,
                preferred_channel=MessageChannel.WHATSAPP,
                whatsapp_last_inbound_at=utcnow() - timedelta(hours=2),
            )
        )
    await start_worker(register_sender, "window-63016")
    async with unit_of_work(isp.schema) as session:
        receipt = await queue_message(
            session, phone=phone, body="Paid KES 500", kind="receipt", urgent=True
        )
        assert receipt.channel is MessageChannel.WHATSAPP

    async def fell_back():
        messages = await _messages(unit_of_work, isp.schema)
        sms = [m for m in messages if m.channel is MessageChannel.SMS]
        return messages if sms and sms[0].status is MessageStatus.SENT else None

    whatsapp, sms = await eventually(fell_back, within=60)
    assert whatsapp.status is MessageStatus.FAILED and whatsapp.failure_reason == "63016"
    assert "24 hours" in whatsapp.last_error and "SMS" in whatsapp.last_error
    assert whatsapp.provider_id and whatsapp.template_sid is None
    assert (sms.fallback_of, sms.body, sms.kind, sms.urgent) == (
        whatsapp.id, "Paid KES 500", "receipt", True
    )  # fmt: skip
    [sent_sms] = at_emulator.state.messages_to(phone)
    assert sent_sms.message == "Paid KES 500"
    # The callback came signed over the ISP's URL, and was taken.
    [callback] = [
        entry
        for entry in emulator_json(f"{twilio_emulator.url}/emulator/log?kind=status_callback")
        if entry["form"]["MessageSid"] == whatsapp.provider_id
    ]
    assert callback["url"] == status_url and callback["status"] == 200
    assert (callback["form"]["MessageStatus"], callback["form"]["ErrorCode"]) == ("failed", "63016")
    # The window is known closed since the message went.
    async with unit_of_work(isp.schema) as session:
        contact = await session.get(ChannelContact, phone)
    assert contact.whatsapp_last_inbound_at <= whatsapp.sent_at - timedelta(hours=24)

    # Twilio telling it again, and then `undelivered` with the same error: nothing more.
    again = callback["form"]
    undelivered = {**again, "MessageStatus": "undelivered", "SmsStatus": "undelivered"}
    async with httpx.AsyncClient(timeout=30) as http:
        for form in (again, undelivered):
            answer = await http.post(
                status_url,
                content=urlencode(form),
                headers={**FORM, SIGNATURE_HEADER: sign(twilio.auth_token, status_url, form)},
            )
            assert answer.status_code == 200, answer.text
    async with unit_of_work(isp.schema) as session:
        stored = sorted(c.provider_key for c in await session.scalars(select(ChannelCallback)))
    sid = whatsapp.provider_id
    assert stored == [f"{sid}:failed", f"{sid}:undelivered"]

    # The next message to that phone goes by SMS at once: no free text tried, no template.
    async with unit_of_work(isp.schema) as session:
        await queue_message(session, phone=phone, body="Paid KES 100", kind="receipt", urgent=True)

    async def second_sent():
        messages = await _messages(unit_of_work, isp.schema)
        done = len(messages) == 4 and messages[-1].status is MessageStatus.SENT
        return messages if done else None

    messages = await eventually(second_sent, within=60)
    later_whatsapp, later_sms = messages[2:]
    assert later_whatsapp.status is MessageStatus.CANCELLED
    assert "24-hour window" in later_whatsapp.last_error
    assert later_sms.fallback_of == later_whatsapp.id
    # One SMS per message, one WhatsApp request in all.
    assert [m.message for m in at_emulator.state.messages_to(phone)] == [
        "Paid KES 500", "Paid KES 100"
    ]  # fmt: skip
    assert len(twilio_emulator.state.messages_to(phone)) == 1
    assert [m.fallback_of for m in messages if m.channel is MessageChannel.SMS] == [
        whatsapp.id, later_whatsapp.id
    ]  # fmt: skip


async def test_a_refusal_told_before_the_send_was_written_down_keeps_its_reason(
    database, tenant, unit_of_work, channel_settings
):
    """Twilio's callback can overtake the sender writing down Twilio's answer: the message
    (still `sending`, without its id) is found by its phone, fails, falls back once; the
    answer written after keeps the failure and its reason."""
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    phone = a_phone()
    async with unit_of_work() as session:
        await queue_message(
            session, phone=phone, body="Your code 4411", kind="sign_in_code",
            channel=MessageChannel.WHATSAPP, urgent=True,
        )  # fmt: skip
    timings = sender.Timings()
    [claimed] = await sender.claim(database, tenant.schema, 5, timings)
    sid = "SM" + secrets.token_hex(16)
    for told in ("failed", "failed", "undelivered"):
        async with unit_of_work() as session:
            await apply_whatsapp_status(
                session, StatusCallback(sid, told, "63016", f"whatsapp:{phone}")
            )
    await sender.record_outcomes(
        database,
        tenant.schema,
        [sender.Outcome(claimed.id, MessageStatus.SENT, provider_id=sid)],
    )
    whatsapp, sms = await _messages(unit_of_work, tenant.schema)
    assert whatsapp.status is MessageStatus.FAILED and whatsapp.provider_id == sid
    assert whatsapp.failure_reason == "63016" and "24 hours" in whatsapp.last_error
    assert (sms.channel, sms.fallback_of, sms.status) == (
        MessageChannel.SMS, whatsapp.id, MessageStatus.QUEUED
    )  # fmt: skip


async def test_a_message_already_delivered_does_not_fall_back(
    database, tenant, unit_of_work, channel_settings
):
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    phone = a_phone()
    sid = "SM" + secrets.token_hex(16)
    wrote = utcnow() - timedelta(hours=1)
    async with unit_of_work() as session:
        session.add(ChannelContact(phone=phone, whatsapp_last_inbound_at=wrote))
        message = await queue_message(
            session, phone=phone, body="Karibu", kind="reply",
            channel=MessageChannel.WHATSAPP, urgent=True,
        )  # fmt: skip
        message.status, message.provider_id, message.sent_at = MessageStatus.SENT, sid, utcnow()
    for told, code in (("delivered", None), ("failed", "63016")):
        async with unit_of_work() as session:
            await apply_whatsapp_status(session, StatusCallback(sid, told, code, phone))
    [delivered] = await _messages(unit_of_work, tenant.schema)
    assert delivered.status is MessageStatus.DELIVERED
    async with unit_of_work() as session:
        assert (await session.get(ChannelContact, phone)).whatsapp_last_inbound_at == wrote


async def test_a_template_refused_falls_back_without_touching_the_window(
    tenant, unit_of_work, channel_settings
):
    await channel_settings(quiet_hours_start=None, quiet_hours_end=None)
    phone = a_phone()
    sid = "SM" + secrets.token_hex(16)
    wrote = utcnow() - timedelta(hours=30)
    async with unit_of_work() as session:
        session.add(ChannelContact(phone=phone, whatsapp_last_inbound_at=wrote))
        message = await queue_message(
            session, phone=phone, body="Your bill", kind="due_soon",
            channel=MessageChannel.WHATSAPP, urgent=True,
        )  # fmt: skip
        message.status, message.provider_id, message.sent_at = MessageStatus.SENT, sid, utcnow()
        message.template_sid = "HX" + "b2" * 16
    async with unit_of_work() as session:
        await apply_whatsapp_status(session, StatusCallback(sid, "failed", "63016", phone))
    whatsapp, sms = await _messages(unit_of_work, tenant.schema)
    assert whatsapp.status is MessageStatus.FAILED and "template" in whatsapp.last_error
    assert sms.fallback_of == whatsapp.id
    async with unit_of_work() as session:
        assert (await session.get(ChannelContact, phone)).whatsapp_last_inbound_at == wrote
