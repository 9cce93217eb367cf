"""The outbound queue: a message commits with its business change, is queued once per
dedupe key, waits out quiet hours, and wakes the sender once per transaction."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from kiunga.channels.messages.models import (
    ChannelContact,
    ChannelSettings,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.outbound import (
    QUEUED_TOPIC,
    queue_message,
    quiet_until,
    record_inbound,
)
from kiunga.platform.errors import DomainError
from sqlalchemy import func, select

PHONE = "+254712345678"
NAIROBI = ZoneInfo("Africa/Nairobi")


async def _count(unit_of_work, **where) -> int:
    async with unit_of_work() as session:
        query = select(func.count(Message.id))
        for column, value in where.items():
            query = query.where(getattr(Message, column) == value)
        return await session.scalar(query)


async def test_a_rolled_back_transaction_queues_nothing_and_wakes_nobody(unit_of_work, topics):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with unit_of_work() as session:
            queued = await queue_message(
                session, phone=PHONE, body="Your receipt", kind="receipt", urgent=True
            )
            assert queued is not None and queued.status is MessageStatus.QUEUED
            raise Boom
    assert await _count(unit_of_work) == 0
    assert await topics(QUEUED_TOPIC) == []


async def test_one_wake_event_per_transaction_and_only_when_due(unit_of_work, topics):
    async with unit_of_work() as session:
        for n in range(3):
            await queue_message(session, phone=PHONE, body=f"n{n}", kind="receipt", urgent=True)
    assert len(await topics(QUEUED_TOPIC)) == 1
    async with unit_of_work() as session:
        await queue_message(session, phone=PHONE, body="again", kind="receipt", urgent=True)
    assert len(await topics(QUEUED_TOPIC)) == 2
    # Held by quiet hours: nothing to drain now (the sweep picks it up later).
    night = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Nairobi
    async with unit_of_work() as session:
        await queue_message(session, phone=PHONE, body="reminder", kind="due_soon", now=night)
    assert len(await topics(QUEUED_TOPIC)) == 2


async def test_a_dedupe_key_queues_once(unit_of_work):
    async with unit_of_work() as session:
        first = await queue_message(
            session, phone=PHONE, body="a", kind="receipt", urgent=True, dedupe_key="receipt:e1"
        )
        again = await queue_message(
            session, phone=PHONE, body="b", kind="receipt", urgent=True, dedupe_key="receipt:e1"
        )
    assert first is not None and again is None
    async with unit_of_work() as session:
        later = await queue_message(
            session, phone=PHONE, body="c", kind="receipt", urgent=True, dedupe_key="receipt:e1"
        )
    assert later is None
    assert await _count(unit_of_work) == 1


async def test_quiet_hours_hold_non_urgent_messages_until_they_end(unit_of_work):
    night = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Nairobi
    async with unit_of_work() as session:
        reminder = await queue_message(session, phone=PHONE, body="r", kind="due_soon", now=night)
        receipt = await queue_message(
            session, phone=PHONE, body="p", kind="receipt", urgent=True, now=night
        )
    assert reminder.send_after == datetime(2026, 12, 8, 7, 0, tzinfo=NAIROBI)
    assert receipt.send_after == night
    # The ISP's own hours.
    async with unit_of_work() as session:
        session.add(
            ChannelSettings(id=1, quiet_hours_start=time(13, 0), quiet_hours_end=time(14, 0))
        )
    noon = datetime(2026, 12, 7, 10, 15, tzinfo=UTC)  # 13:15 in Nairobi
    async with unit_of_work() as session:
        held = await queue_message(session, phone=PHONE, body="r", kind="due_soon", now=noon)
        free = await queue_message(session, phone=PHONE, body="r", kind="due_soon", now=night)
    assert held.send_after == datetime(2026, 12, 7, 14, 0, tzinfo=NAIROBI)
    assert free.send_after == night


def test_quiet_hours_across_midnight():
    start, end = time(21, 0), time(7, 0)
    early = datetime(2026, 12, 7, 2, 0, tzinfo=NAIROBI)
    assert quiet_until(early, NAIROBI, start, end) == datetime(2026, 12, 7, 7, 0, tzinfo=NAIROBI)
    day = datetime(2026, 12, 7, 12, 0, tzinfo=NAIROBI)
    assert quiet_until(day, NAIROBI, start, end) is None
    assert quiet_until(day, NAIROBI, None, end) is None


async def test_segments_and_preferred_channel(unit_of_work):
    async with unit_of_work() as session:
        long = await queue_message(session, phone=PHONE, body="x" * 161, kind="t", urgent=True)
        emoji = await queue_message(session, phone=PHONE, body="Asante 🙏", kind="t", urgent=True)
        session.add(
            ChannelContact(phone="+254700000001", preferred_channel=MessageChannel.WHATSAPP)
        )
        await session.flush()
        # WhatsApp is preferred, but this ISP has no WhatsApp: SMS.
        chosen = await queue_message(session, phone="+254700000001", body="hi", kind="t")
    assert long.segments == 2 and emoji.segments == 1
    assert chosen.channel is MessageChannel.SMS


@pytest.mark.parametrize(
    ("phone", "body", "field"),
    [("0712345678", "hi", "phone"), (PHONE, "", "body"), (PHONE, "a\x00b", "body")],
)
async def test_bad_messages_are_refused(unit_of_work, phone, body, field):
    async with unit_of_work() as session:
        with pytest.raises(DomainError) as refused:
            await queue_message(session, phone=phone, body=body, kind="t")
    assert refused.value.field == field


async def test_inbound_is_recorded_once_and_opens_the_whatsapp_window(unit_of_work):
    async with unit_of_work() as session:
        first = await record_inbound(
            session,
            channel=MessageChannel.WHATSAPP,
            phone=PHONE,
            body="Habari",
            provider_id="SM123",
            kind="free_text",
        )
        again = await record_inbound(
            session,
            channel=MessageChannel.WHATSAPP,
            phone=PHONE,
            body="Habari",
            provider_id="SM123",
            kind="free_text",
        )
        same_id_by_sms = await record_inbound(
            session,
            channel=MessageChannel.SMS,
            phone=PHONE,
            body="BAL",
            provider_id="SM123",
            kind="keyword",
        )
    assert first is not None and again is None and same_id_by_sms is not None
    async with unit_of_work() as session:
        contact = await session.get(ChannelContact, PHONE)
    assert contact.whatsapp_last_inbound_at is not None


async def test_queue_many_is_queue_message_in_bulk(unit_of_work, topics):
    from kiunga.channels.messages.outbound import Outgoing, queue_many

    night = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Nairobi
    async with unit_of_work() as session:
        session.add(ChannelContact(phone="+254700000009", language="sw"))
        await session.flush()
        items = [
            Outgoing(phone=f"+25470000000{n}", body=f"n{n}", kind="due_soon", dedupe_key=f"k{n}")
            for n in range(10)
        ]
        assert await queue_many(session, items, now=night) == 10
        # Queued before: nothing new, and the receipt goes at once (it wakes the sender).
        again = [*items[:3], Outgoing(phone=PHONE, body="r", kind="receipt", urgent=True)]
        assert await queue_many(session, again, now=night) == 1
    async with unit_of_work() as session:
        rows = {m.phone: m for m in await session.scalars(select(Message))}
    assert len(rows) == 11
    assert rows["+254700000001"].send_after == datetime(2026, 12, 8, 7, 0, tzinfo=NAIROBI)
    assert rows["+254700000009"].language == "sw" and rows["+254700000001"].language == "en"
    assert rows[PHONE].send_after == night
    assert len(await topics(QUEUED_TOPIC)) == 1
