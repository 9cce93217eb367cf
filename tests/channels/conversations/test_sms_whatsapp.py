"""SMS through Africa's Talking and WhatsApp through Twilio: every keyword in both
languages, free text continuing a conversation, replies queued on the channel they came
from, retries by the provider's id processed once, and Twilio's signature (computed by
twilio's own RequestValidator) checked before anything is stored."""

from __future__ import annotations

import pytest
from kiunga.channels.conversations import actions
from kiunga.channels.messages.models import (
    ChannelCallback,
    ChannelContact,
    Direction,
    Message,
    MessageChannel,
)
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.tickets.models import Channel, Ticket
from sqlalchemy import func, select

pytestmark = pytest.mark.slow

PHONE = "+254712345678"


async def _replies(session, channel=MessageChannel.SMS) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.direction == Direction.OUT, Message.channel == channel)
        .order_by(Message.id)
    )
    return list(rows)


async def _last_reply(unit_of_work, channel=MessageChannel.SMS) -> Message:
    async with unit_of_work() as session:
        return (await _replies(session, channel))[-1]


async def _later(unit_of_work) -> list[dict]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == actions.TOPIC).order_by(OutboxEvent.id)
        )
        return [event.payload for event in rows]


@pytest.mark.parametrize(
    ("keyword", "words"),
    [
        ("BAL", "Balance KES 0"),
        ("salio", "Salio KES 0"),
        ("Bal!", "Balance"),
        ("SALÍO 👍", "Salio"),
    ],
)
async def test_balance_in_both_languages(channel_isp, customer, sms, unit_of_work, keyword, words):
    isp = await channel_isp()
    me = await customer(language="sw" if "sal" in keyword.lower() else "en")
    link = "link-123"
    sent = await sms(isp, me.phone, keyword, linkId=link)
    reply = await _last_reply(unit_of_work)
    assert words in reply.body and me.account_number in reply.body
    assert reply.kind == "reply" and reply.urgent and reply.link_id == link
    assert reply.subscriber_id == me.subscriber_id and reply.dedupe_key == f"reply:sms:{sent}"
    async with unit_of_work() as session:
        inbound = await session.scalar(select(Message).where(Message.direction == Direction.IN))
        assert inbound.provider_id == sent and inbound.kind == "balance"
        assert inbound.body == keyword and inbound.subscriber_id == me.subscriber_id


@pytest.mark.parametrize(("keyword", "language"), [("PAY 500", "en"), ("lipa*500", "sw")])
async def test_pay_asks_for_the_prompt_after_the_reply(
    mpesa_ready, channel_isp, customer, sms, unit_of_work, keyword, language
):
    isp = await channel_isp()
    me = await customer(language=language)
    await sms(isp, me.phone, keyword)
    later = await _later(unit_of_work)
    assert [(item["kind"], item["facts"]) for item in later] == [
        (
            "pay",
            {
                "subscriber_id": me.subscriber_id,
                "phone": me.phone,
                "amount": 50_000,
                "language": language,
            },
        )
    ]
    reply = await _last_reply(unit_of_work)
    words = "M-Pesa prompt for KES 500" if language == "en" else "ombi la M-Pesa la KES 500"
    assert words in reply.body and f"Paybill {mpesa_ready}" in reply.body


@pytest.mark.parametrize("keyword", ["PAY", "LIPA"])
async def test_pay_without_an_amount_opens_the_pay_menu(
    mpesa_ready, channel_isp, customer, sms, unit_of_work, keyword
):
    isp = await channel_isp()
    me = await customer()
    await sms(isp, me.phone, keyword)
    assert "1 Pay KES 1,500" in (await _last_reply(unit_of_work)).body
    # Free text continues the conversation: 1 chooses the amount due.
    await sms(isp, me.phone, "1")
    assert "Pay KES 1,500 for" in (await _last_reply(unit_of_work)).body
    await sms(isp, me.phone, "1")
    assert [item["facts"]["amount"] for item in await _later(unit_of_work)] == [150_000]


@pytest.mark.parametrize(
    ("keyword", "reply_words"),
    [("BUY one", "M-Pesa prompt for KES 20"), ("nunua saa moja", "ombi la M-Pesa la KES 20")],
)
async def test_buy_a_voucher_by_name(
    channel_isp, add_package, sms, unit_of_work, keyword, reply_words
):
    isp = await channel_isp()
    package_id = await add_package(
        service_type="hotspot", price=2_000, validity_unit="hour", sold_on_portal=True,
        name="One hour", name_sw="Saa moja",
    )  # fmt: skip
    await sms(isp, "+254722000333", keyword)
    assert reply_words in (await _last_reply(unit_of_work)).body
    later = await _later(unit_of_work)
    assert [(item["kind"], item["facts"]["package_id"]) for item in later] == [
        ("voucher", package_id)
    ]
    await sms(isp, "+254722000333", "BUY week")
    assert "No package week" in (await _last_reply(unit_of_work)).body
    assert len(await _later(unit_of_work)) == 1


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("TICKET no internet since *morning* 😡", "no internet since *morning* 😡"),
        ("tiketi hakuna mtandao tangu asubuhi", "hakuna mtandao tangu asubuhi"),
    ],
)
async def test_ticket_opens_one_with_the_words_given(
    channel_isp, customer, sms, unit_of_work, keyword, text
):
    isp = await channel_isp()
    me = await customer(language="sw" if keyword.startswith("tiketi") else "en")
    sent = await sms(isp, me.phone, keyword)
    await sms(isp, me.phone, keyword, id=sent)  # Africa's Talking again: once
    async with unit_of_work() as session:
        tickets = list(await session.scalars(select(Ticket)))
        assert len(tickets) == 1 and tickets[0].channel is Channel.SMS
        assert tickets[0].subscriber_id == me.subscriber_id
        replies = await _replies(session)
        assert len(replies) == 1 and tickets[0].reference in replies[0].body
        inbound = await session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == Direction.IN)
        )
        assert inbound == 1
    thread_text = tickets[0].subject
    assert text[:20] in thread_text


@pytest.mark.parametrize(("keyword", "words"), [("HELP", "BAL balance"), ("msaada", "SALIO salio")])
async def test_help_in_both_languages(channel_isp, sms, unit_of_work, keyword, words):
    isp = await channel_isp()
    await sms(isp, "+254722000444", keyword)
    assert words in (await _last_reply(unit_of_work)).body


async def test_stop_and_start_set_the_marketing_choice(channel_isp, customer, sms, unit_of_work):
    isp = await channel_isp()
    me = await customer()
    await sms(isp, me.phone, "STOP")
    async with unit_of_work() as session:
        assert (await session.get(ChannelContact, me.phone)).marketing_opt_out is True
    assert "no more offers" in (await _last_reply(unit_of_work)).body
    await sms(isp, me.phone, "start")
    async with unit_of_work() as session:
        assert (
            await session.get(ChannelContact, me.phone, populate_existing=True)
        ).marketing_opt_out is False


async def test_free_text_without_a_conversation_gets_the_menu(
    channel_isp, customer, sms, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    await sms(isp, me.phone, "Habari, mtandao uko chini?")
    menu = (await _last_reply(unit_of_work)).body
    assert "1 My account" in menu
    await sms(isp, me.phone, "1")
    assert me.account_number in (await _last_reply(unit_of_work)).body


async def test_an_unknown_token_is_404_and_stores_nothing(hooks_client, channel_isp, unit_of_work):
    isp = await channel_isp()
    answer = await hooks_client.post(
        "/hooks/channels/nobody/sms", data={"from": PHONE, "text": "BAL", "id": "x1"}
    )
    assert answer.status_code == 404
    async with unit_of_work(isp.schema) as session:
        assert await session.scalar(select(func.count()).select_from(ChannelCallback)) == 0


# ---------------------------------------------------------------- WhatsApp


async def test_whatsapp_signed_message_is_answered_on_whatsapp_once(
    channel_isp, customer, whatsapp, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    answer = await whatsapp(isp, me.phone, "hi", sid="SM" + "a" * 32)
    assert answer.status_code == 200 and "<Response>" in answer.text
    again = await whatsapp(isp, me.phone, "hi", sid="SM" + "a" * 32)
    assert again.status_code == 200
    async with unit_of_work() as session:
        replies = await _replies(session, MessageChannel.WHATSAPP)
        assert len(replies) == 1 and "*1* My account" in replies[0].body
        contact = await session.get(ChannelContact, me.phone)
        assert contact.whatsapp_last_inbound_at is not None
        inbound = list(
            await session.scalars(select(Message).where(Message.direction == Direction.IN))
        )
        assert [(m.channel, m.provider_id) for m in inbound] == [
            (MessageChannel.WHATSAPP, "SM" + "a" * 32)
        ]
    await whatsapp(isp, me.phone, "1")
    summary = (await _last_reply(unit_of_work, MessageChannel.WHATSAPP)).body
    assert me.account_number in summary and "0 back · 00 menu" in summary


async def test_whatsapp_ticket_reply_is_promised_here(
    channel_isp, customer, whatsapp, unit_of_work
):
    isp = await channel_isp()
    me = await customer()
    await whatsapp(isp, me.phone, "TICKET my router is blinking red")
    body = (await _last_reply(unit_of_work, MessageChannel.WHATSAPP)).body
    assert "We will reply here." in body
    async with unit_of_work() as session:
        assert (await session.scalar(select(Ticket))).channel is Channel.WHATSAPP


@pytest.mark.parametrize("how", ["wrong token", "tampered", "missing"])
async def test_a_wrong_signature_is_403_and_stores_nothing(
    channel_isp, customer, whatsapp, unit_of_work, how
):
    isp = await channel_isp()
    me = await customer()
    if how == "wrong token":
        answer = await whatsapp(isp, me.phone, "hi", auth_token="f" * 32)
    elif how == "tampered":
        answer = await whatsapp(isp, me.phone, "hi", signature="bm90IHRoZSBzaWduYXR1cmU=")
    else:
        answer = await whatsapp(isp, me.phone, "hi", signature="")
    assert answer.status_code == 403
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(ChannelCallback)) == 0
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
        assert await session.get(ChannelContact, me.phone) is None


async def test_a_prompt_that_cannot_be_sent_is_told_and_never_retried(
    channel_isp, customer, sms, unit_of_work, database, tenant
):
    """M-Pesa not set up: the STK push is refused; the subscriber hears so by SMS, once."""
    isp = await channel_isp()
    me = await customer(language="sw")
    await sms(isp, me.phone, "LIPA 500")
    # The last screen of a payment needs the paybill: without M-Pesa, it says so instead.
    assert "M-Pesa bado haya" in (await _last_reply(unit_of_work)).body
    payload = {
        "kind": "pay",
        "facts": {"subscriber_id": me.subscriber_id, "phone": me.phone, "amount": 50_000,
                  "language": "sw"},
        "key": "test:1:0",
        "channel": "sms",
    }  # fmt: skip
    assert await actions.perform(database, tenant.schema, payload) == "refused"
    assert await actions.perform(database, tenant.schema, payload) == "done before"
    async with unit_of_work() as session:
        told = [m for m in await _replies(session) if m.dedupe_key == "refused:test:1:0"]
        assert len(told) == 1 and told[0].body.startswith("Hatukuweza kutuma ombi la M-Pesa")
