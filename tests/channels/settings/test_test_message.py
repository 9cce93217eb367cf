""" "Send a test message": queued as a message of kind test through the outbound queue, then
sent by the real sender through the providers' SDKs to their emulators, whose delivery
report (AT) and signed status callbacks (Twilio) come back over real HTTP to the ISP's
callback URLs and mark it delivered."""

from __future__ import annotations

import dataclasses
import secrets

from kiunga.channels.messages import settings as channel_settings
from kiunga.channels.messages.models import (
    ChannelContact,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.sender import drain
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.tenants import TenantRef
from sqlalchemy import select

from fixtures.waiting import eventually

API = "/api/v1/channel-settings"


def a_phone() -> str:
    return f"+2547{secrets.randbelow(10**8):08d}"


async def messages_in(unit_of_work, isp) -> list[Message]:
    async with unit_of_work(isp.schema) as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def test_a_test_message_is_queued_urgent_of_kind_test(
    make_channel_isp, client_for, unit_of_work
):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    answer = await client.post(
        f"{API}/test-message", json={"channel": "sms", "phone": "0712 345 678"}, headers=isp.headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["channel"], body["phone"], body["kind"], body["status"]) == (
        "sms",
        "+254712345678",
        "test",
        "queued",
    )
    whatsapp = await client.post(
        f"{API}/test-message", json={"channel": "WhatsApp", "phone": "+254712345678"},
        headers=isp.headers,
    )  # fmt: skip
    assert whatsapp.status_code == 200 and whatsapp.json()["channel"] == "whatsapp"
    queued = await messages_in(unit_of_work, isp)
    assert [(m.kind, m.channel, m.urgent, m.status) for m in queued] == [
        ("test", MessageChannel.SMS, True, MessageStatus.QUEUED),
        ("test", MessageChannel.WHATSAPP, True, MessageStatus.QUEUED),
    ]
    assert isp.name[:20] in queued[0].body


async def test_a_test_message_is_refused_naming_the_field(
    make_channel_isp, make_tenant, make_key, client_for, unit_of_work
):
    isp = await make_channel_isp()
    client = client_for(isp.host)
    refusals = [
        ({"channel": "ussd", "phone": "+254712345678"}, "channel"),
        ({"channel": "fax", "phone": "+254712345678"}, "channel"),
        ({"channel": "sms", "phone": "12"}, "phone"),
        ({"channel": "sms", "phone": "+2547\x00"}, "phone"),
        ({"channel": "sms", "phone": "+254" + "7" * 40}, "phone"),
        ({"channel": "sms"}, "phone"),
    ]
    for body, field in refusals:
        answer = await client.post(f"{API}/test-message", json=body, headers=isp.headers)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field, answer.text
    reader = {"Authorization": f"Bearer {make_key(isp.id, scopes=('channels.settings.read',))}"}
    answer = await client.post(
        f"{API}/test-message", json={"channel": "sms", "phone": "+254712345678"}, headers=reader
    )
    assert answer.status_code == 403
    assert await messages_in(unit_of_work, isp) == []
    # An ISP with no provider set up: told what to set up first.
    bare = make_tenant("chm")
    headers = {"Authorization": f"Bearer {make_key(bare.id, scopes=('channels.settings.write',))}"}
    answer = await client_for(bare.host).post(
        f"{API}/test-message", json={"channel": "whatsapp", "phone": "+254712345678"},
        headers=headers,
    )  # fmt: skip
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "channel"


async def test_a_test_sms_reaches_africas_talking_and_its_delivery_report_comes_back(
    kiunga, monkeypatch, settings, make_channel_isp, at_account, at_emulator,
    client_for, database, redis, unit_of_work,
):  # fmt: skip
    public = dataclasses.replace(settings, public_url=kiunga.url)
    monkeypatch.setattr(channel_settings, "get_settings", lambda: public)
    isp = await make_channel_isp()
    at = at_account(
        delivery_report_url=f"{kiunga.url}{isp.hook('delivery')}", sender_ids=["KIUNGA"]
    )
    client = client_for(isp.host)
    saved = await client.put(
        API,
        json={"at_username": at.username, "at_api_key": at.api_key, "at_base_url": at.base_url},
        headers=isp.headers,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["callback_urls"]["delivery"] == f"{kiunga.url}{isp.hook('delivery')}"
    phone = a_phone()
    queued = await client.post(
        f"{API}/test-message", json={"channel": "sms", "phone": phone}, headers=isp.headers
    )
    assert queued.status_code == 200, queued.text

    result = await drain(database, redis, TenantRef(isp.id, isp.slug, isp.schema, True))
    assert result.sent == 1
    [sms] = at_emulator.state.messages_to(phone)
    assert sms.message == queued.json()["body"] and sms.sender == "KIUNGA"

    async def delivered():
        [message] = await messages_in(unit_of_work, isp)
        return message if message.status is MessageStatus.DELIVERED else None

    message = await eventually(delivered)
    assert message.provider_id == sms.message_id and message.cost_micros


async def test_a_test_whatsapp_reaches_twilio_and_its_signed_statuses_come_back(
    kiunga, monkeypatch, settings, make_channel_isp, twilio_account, twilio_emulator,
    client_for, database, redis, unit_of_work,
):  # fmt: skip
    public = dataclasses.replace(settings, public_url=kiunga.url)
    monkeypatch.setattr(channel_settings, "get_settings", lambda: public)
    isp = await make_channel_isp()
    twilio, sender = twilio_account(
        status_callback_url=f"{kiunga.url}{isp.hook('whatsapp/status')}"
    )
    client = client_for(isp.host)
    saved = await client.put(
        API,
        json={
            "twilio_account_sid": twilio.account_sid,
            "twilio_auth_token": twilio.auth_token,
            "whatsapp_from": sender,
            "twilio_base_url": twilio.base_url,
        },
        headers=isp.headers,
    )
    assert saved.status_code == 200, saved.text
    phone = a_phone()
    # The subscriber wrote a minute ago: free text is allowed (the 24-hour window).
    twilio_emulator.state.wrote(sender, phone)
    async with unit_of_work(isp.schema) as session:
        session.add(ChannelContact(phone=phone, whatsapp_last_inbound_at=utcnow()))
    queued = await client.post(
        f"{API}/test-message", json={"channel": "whatsapp", "phone": phone}, headers=isp.headers
    )
    assert queued.status_code == 200, queued.text

    result = await drain(database, redis, TenantRef(isp.id, isp.slug, isp.schema, True))
    assert result.sent == 1
    [sent] = twilio_emulator.state.messages_to(phone)

    async def read():
        [message] = await messages_in(unit_of_work, isp)
        return message if message.status is MessageStatus.READ else None

    message = await eventually(read)
    assert message.provider_id == sent.sid
