"""Tickets, talking to a person, leads and a phone's choices, through self-service."""

from __future__ import annotations

import pytest
from kiunga.channels.messages.models import ChannelContact
from kiunga.channels.selfservice import contacts, tickets
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from kiunga.tenants.tickets.models import Ticket, TicketMessage
from kiunga.tenants.tickets.service import add_message
from sqlalchemy import select

from .conftest import STAFF


async def test_a_problem_becomes_a_ticket_the_subscriber_can_follow(customer, unit_of_work, topics):
    me = await customer(service=False)
    other = await customer("+254799000222", service=False)
    async with unit_of_work() as session:
        ticket = await tickets.report_problem(
            session,
            subscriber_id=me.subscriber_id,
            phone=me.phone,
            category="connectivity",
            text="Hakuna mtandao tangu asubuhi 😞",
            channel="ussd",
        )
    assert ticket.reference.startswith("TKT-") and ticket.status == "open"
    assert ticket.subject == "Hakuna mtandao tangu asubuhi 😞"
    async with unit_of_work() as session:
        await add_message(session, ticket.id, body="A technician is on the way", actor=STAFF)
    async with unit_of_work() as session:
        mine = await tickets.open_tickets(session, me.subscriber_id)
        assert [t.number for t in mine] == [ticket.number]
        thread = await tickets.ticket_thread(session, me.subscriber_id, ticket.reference)
        assert [m.author for m in thread.messages] == ["you", "staff"]
        await tickets.reply_to_ticket(
            session,
            subscriber_id=me.subscriber_id,
            phone=me.phone,
            reference=str(ticket.number),
            text="Asante",
            channel="sms",
        )
        # Another subscriber's ticket is simply not there.
        with pytest.raises(NotYours):
            await tickets.ticket_thread(session, other.subscriber_id, ticket.reference)
        with pytest.raises(NotYours):
            await tickets.reply_to_ticket(
                session,
                subscriber_id=other.subscriber_id,
                phone=other.phone,
                reference=ticket.number,
                text="mine?",
                channel="web",
            )
        with pytest.raises(SelfServiceError):
            await tickets.report_problem(
                session,
                subscriber_id=me.subscriber_id,
                phone=me.phone,
                category="weather",
                text="x",
                channel="ussd",
            )
    assert (
        "ticket.opened",
        {"ticket_id": ticket.id, "number": ticket.reference, "subscriber_id": me.subscriber_id},
    ) in await topics("ticket.")


async def test_talking_to_a_person_keeps_one_ticket_open(customer, unit_of_work):
    me = await customer(service=False)
    async with unit_of_work() as session:
        first = await tickets.talk_to_person(
            session, subscriber_id=me.subscriber_id, phone=me.phone, channel="whatsapp"
        )
        second = await tickets.talk_to_person(
            session,
            subscriber_id=me.subscriber_id,
            phone=me.phone,
            text="Please call me",
            channel="whatsapp",
        )
        assert first.id == second.id
        bodies = list(
            await session.scalars(
                select(TicketMessage.body).where(TicketMessage.ticket_id == first.id)
            )
        )
        assert bodies[-1] == "Please call me"
        row = await session.get(Ticket, first.id)
        assert row.channel.value == "whatsapp"


async def test_an_unknown_number_reports_a_problem_and_registers_interest(unit_of_work):
    async with unit_of_work() as session:
        ticket = await tickets.report_problem(
            session,
            subscriber_id=None,
            phone="0733111222",
            category="other",
            text="Do you cover Kisumu?",
            channel="sms",
        )
        row = await session.get(Ticket, ticket.id)
        assert row.subscriber_id is None and row.opened_by == "sms:+254733111222"
        lead = await contacts.register_interest(
            session,
            phone="0733111222",
            name="Wanjiru",
            location="Near Kondele market, Kisumu",
            language="sw",
            channel="ussd",
        )
        assert lead.created
        again = await contacts.register_interest(
            session, phone="+254733111222", name="W", location="x", language="sw"
        )
        assert (again.subscriber_id, again.created) == (lead.subscriber_id, False)
        subscriber = await session.get(Subscriber, lead.subscriber_id)
        assert subscriber.status is SubscriberStatus.LEAD
        assert subscriber.address == "Near Kondele market, Kisumu"
        assert subscriber.language.value == "sw" and subscriber.primary_phone == "+254733111222"
        with pytest.raises(SelfServiceError) as refused:
            await contacts.register_interest(
                session, phone="0733111999", name="  ", location="x", language="sw"
            )
        assert refused.value.field == "name"


async def test_language_and_marketing_are_remembered_per_phone(customer, unit_of_work):
    me = await customer(service=False)
    async with unit_of_work() as session:
        await contacts.set_language(
            session, phone=me.phone, subscriber_id=me.subscriber_id, language="sw"
        )
        await contacts.set_marketing(session, phone=me.phone, opted_in=False)
        await contacts.set_language(session, phone="0700123456", subscriber_id=None, language="en")
        with pytest.raises(SelfServiceError):
            await contacts.set_language(session, phone=me.phone, subscriber_id=None, language="fr")
    async with unit_of_work() as session:
        prefs = await contacts.contact_prefs(session, me.phone)
        assert (prefs.language, prefs.marketing_opt_out) == ("sw", True)
        assert (await session.get(Subscriber, me.subscriber_id)).language.value == "sw"
        await contacts.set_marketing(session, phone=me.phone, opted_in=True)
    async with unit_of_work() as session:
        assert not (await session.get(ChannelContact, me.phone)).marketing_opt_out
        assert (await contacts.contact_prefs(session, "0700123456")).language == "en"
