"""Help: report a problem (a ticket in the category chosen), talk to a person (a ticket
staff answer in the console; the messaging area sends their replies back on the channel
the ticket came from), the subscriber's tickets, one ticket's thread and a reply to it.
All through the tickets area's own service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.channels.selfservice.accounts import clean_phone, own_account
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError, subscriber_actor
from kiunga.platform.web.inputs import MAX_ID
from kiunga.tenants.tickets import service as tickets
from kiunga.tenants.tickets.models import (
    AuthorKind,
    Channel,
    Ticket,
    TicketCategory,
    TicketMessage,
    TicketStatus,
)
from kiunga.tenants.tickets.queries import parse_reference
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

CATEGORIES = tuple(category.value for category in TicketCategory)
MAX_TEXT = 2000
SUBJECT_LENGTH = 60
FINISHED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class TicketRef:
    id: int
    number: int
    reference: str  # TKT-000123: what the subscriber is told
    subject: str
    category: str
    status: str  # TicketStatus value
    created_at: datetime
    updated_at: datetime


def ticket_ref(ticket: Ticket) -> TicketRef:
    return TicketRef(
        ticket.id,
        ticket.number,
        ticket.reference,
        ticket.subject,
        ticket.category.value,
        ticket.status.value,
        ticket.created_at,
        ticket.updated_at,
    )


def ticket_channel(channel: str) -> Channel:
    try:
        return Channel(channel)
    except ValueError:
        raise SelfServiceError("channel", f"unknown channel {channel!r}") from None


def clean_text(raw: object, field: str = "text", *, required: bool = True) -> str:
    if not isinstance(raw, str):
        raw = ""
    if "\x00" in raw:
        raise SelfServiceError(field, "the text holds a character that cannot be stored")
    text = raw.strip()
    if required and not text:
        raise SelfServiceError(field, "write a few words")
    if len(text) > MAX_TEXT:
        raise SelfServiceError(field, f"write at most {MAX_TEXT} characters")
    return text


def _subject(text: str, fallback: str) -> str:
    first = " ".join(text.split())
    if not first:
        return fallback
    return first if len(first) <= SUBJECT_LENGTH else first[: SUBJECT_LENGTH - 1] + "…"


async def open_or_add(
    session: AsyncSession,
    *,
    subscriber_id: int | None,
    phone: str,
    subject: str,
    body: str,
    category: TicketCategory | str,
    channel: str,
) -> TicketRef:
    """A subscriber's ticket with this subject, opened once: an unfinished one with the
    same subject (the same receipt claimed twice) gets the body as a message instead."""
    author = AuthorKind.SUBSCRIBER if subscriber_id is not None else AuthorKind.SYSTEM
    actor = subscriber_actor(phone, channel)
    if subscriber_id is not None:
        existing = await session.scalar(
            select(Ticket).where(
                Ticket.subscriber_id == subscriber_id,
                Ticket.subject == subject,
                Ticket.status.not_in(FINISHED),
            )
        )
        if existing is not None:
            await tickets.add_message(
                session,
                existing.id,
                body=body,
                author_kind=author,
                channel=ticket_channel(channel),
                actor=actor,
            )
            return ticket_ref(await tickets.get_ticket(session, existing.id))
    ticket = await tickets.open_ticket(
        session,
        subject=subject,
        body=body,
        category=category,
        subscriber_id=subscriber_id,
        channel=ticket_channel(channel),
        author_kind=author,
        actor=actor,
    )
    return ticket_ref(ticket)


async def _who(session: AsyncSession, phone: str, subscriber_id: int | None) -> int | None:
    if subscriber_id is None:
        return None
    return (await own_account(session, phone, subscriber_id)).subscriber_id


async def report_problem(
    session: AsyncSession,
    *,
    subscriber_id: int | None,
    phone: str,
    category: str,
    text: str,
    channel: str,
) -> TicketRef:
    """A ticket in `category` (connectivity, billing, installation, relocation, other);
    an unknown number's ticket has no subscriber and carries the phone in its author."""
    phone = clean_phone(phone)
    if category not in CATEGORIES:
        raise SelfServiceError("category", "choose what the problem is about")
    text = clean_text(text, required=False)
    subscriber_id = await _who(session, phone, subscriber_id)
    body = text if subscriber_id is not None else f"From {phone}: {text}".rstrip(": ")
    ticket = await tickets.open_ticket(
        session,
        subject=_subject(text, f"Problem reported ({category})"),
        body=body,
        category=category,
        subscriber_id=subscriber_id,
        channel=ticket_channel(channel),
        author_kind=AuthorKind.SUBSCRIBER if subscriber_id is not None else AuthorKind.SYSTEM,
        actor=subscriber_actor(phone, channel),
    )
    return ticket_ref(ticket)


async def talk_to_person(
    session: AsyncSession,
    *,
    subscriber_id: int | None,
    phone: str,
    text: str = "",
    channel: str,
) -> TicketRef:
    """A ticket asking for a person; staff's replies go back on `channel`. One open at a
    time: asking again adds to it."""
    phone = clean_phone(phone)
    text = clean_text(text, required=False)
    subscriber_id = await _who(session, phone, subscriber_id)
    body = text or "The subscriber asked to talk to a person."
    if subscriber_id is None:
        body = f"From {phone}: {body}"
    return await open_or_add(
        session,
        subscriber_id=subscriber_id,
        phone=phone,
        subject="Asked to talk to a person",
        body=body,
        category=TicketCategory.OTHER,
        channel=channel,
    )


async def open_tickets(
    session: AsyncSession, subscriber_id: int, *, include_finished: bool = False, limit: int = 20
) -> list[TicketRef]:
    """The subscriber's tickets, newest first: unfinished ones (all with include_finished)."""
    query = select(Ticket).where(Ticket.subscriber_id == subscriber_id)
    if not include_finished:
        query = query.where(Ticket.status.not_in(FINISHED))
    rows = await session.scalars(query.order_by(Ticket.id.desc()).limit(max(1, min(limit, 100))))
    return [ticket_ref(ticket) for ticket in rows]


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    author: str  # "you", "staff" or "system"
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketThread:
    ticket: TicketRef
    messages: list[ThreadMessage]
    can_reply: bool


async def _own_ticket(session: AsyncSession, subscriber_id: int, reference: object) -> Ticket:
    number = parse_reference(reference) if isinstance(reference, str) else None
    if isinstance(reference, int) and not isinstance(reference, bool):
        number = reference
    ticket = None
    if number is not None and 1 <= number <= MAX_ID:
        ticket = await session.scalar(
            select(Ticket).where(Ticket.number == number, Ticket.subscriber_id == subscriber_id)
        )
    if ticket is None:
        raise NotYours("no such ticket of yours", field="ticket")
    return ticket


async def ticket_thread(
    session: AsyncSession, subscriber_id: int, reference: object
) -> TicketThread:
    """One of the subscriber's tickets (by number or TKT-… reference) with its messages;
    another subscriber's ticket is not found."""
    ticket = await _own_ticket(session, subscriber_id, reference)
    rows = await session.scalars(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
    )
    authors = {AuthorKind.SUBSCRIBER: "you", AuthorKind.STAFF: "staff", AuthorKind.SYSTEM: "system"}
    messages = [ThreadMessage(authors[m.author_kind], m.body, m.created_at) for m in rows]
    return TicketThread(ticket_ref(ticket), messages, ticket.status is not TicketStatus.CLOSED)


async def reply_to_ticket(
    session: AsyncSession,
    *,
    subscriber_id: int,
    phone: str,
    reference: object,
    text: str,
    channel: str,
) -> TicketRef:
    """The subscriber writes on their ticket (a resolved one opens again; a closed one is
    refused by the tickets service: open a new one)."""
    phone = clean_phone(phone)
    text = clean_text(text)
    await own_account(session, phone, subscriber_id)
    ticket = await _own_ticket(session, subscriber_id, reference)
    await tickets.add_message(
        session,
        ticket.id,
        body=text,
        author_kind=AuthorKind.SUBSCRIBER,
        channel=ticket_channel(channel),
        actor=subscriber_actor(phone, channel),
    )
    return ticket_ref(await tickets.get_ticket(session, ticket.id, for_update=False))
