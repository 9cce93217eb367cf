"""Ticket operations. Each takes the tenant session, only flushes (the caller's unit of
work commits) and records a `ticket.opened` or `ticket.updated` event in the same
transaction, so the notifications that follow never announce a change that rolled back.
"""

from __future__ import annotations

from datetime import datetime

from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.models import StaffAccount, Tenant, TenantMembership
from kiunga.tenants.actors import SYSTEM, Actor
from kiunga.tenants.billing.models import DocumentSequence
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.tickets.models import (
    AuthorKind,
    Channel,
    Ticket,
    TicketCategory,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

TICKET_SEQUENCE = "ticket"
MAX_SUBJECT_LENGTH = 200
MAX_BODY_LENGTH = 10_000

S = TicketStatus
# Closed is final: a closed ticket's problem comes back as a new ticket.
ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.OPEN: frozenset({S.IN_PROGRESS, S.WAITING_ON_SUBSCRIBER, S.RESOLVED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.OPEN, S.WAITING_ON_SUBSCRIBER, S.RESOLVED, S.CLOSED}),
    S.WAITING_ON_SUBSCRIBER: frozenset({S.OPEN, S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.OPEN, S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset(),
}
# A subscriber writing back means the ball is in the ISP's court again.
REOPENED_BY_SUBSCRIBER = {S.WAITING_ON_SUBSCRIBER: S.IN_PROGRESS, S.RESOLVED: S.OPEN}


class TicketError(DomainError, ValueError):
    """Bad input for a ticket; `field` names what was wrong."""


class TransitionNotAllowed(TicketError):
    """A well-formed request the ticket's current state forbids (409)."""

    kind = Kind.CONFLICT


class TicketNotFound(NotFoundError):
    pass


def parse_enum(enum_type, field: str, value: object):
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise TicketError(field, f"{field} must be one of: {allowed}") from None


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise TicketError("subject", "subject is required")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise TicketError("subject", f"subject must be at most {MAX_SUBJECT_LENGTH} characters")
    return subject


def _clean_body(body: str, *, required: bool) -> str:
    body = (body or "").strip()
    if required and not body:
        raise TicketError("body", "body is required")
    if len(body) > MAX_BODY_LENGTH:
        raise TicketError("body", f"body must be at most {MAX_BODY_LENGTH} characters")
    return body


async def _next_number(session: AsyncSession) -> int:
    # Tickets count in the tenant's document sequences, beside invoices and receipts. The
    # upsert holds the counter row's lock until commit, so concurrent openers queue here
    # instead of reading the same last number, and a rolled-back ticket leaves no gap.
    statement = (
        insert(DocumentSequence)
        .values(name=TICKET_SEQUENCE, last_value=1)
        .on_conflict_do_update(
            index_elements=[DocumentSequence.name],
            set_={"last_value": DocumentSequence.last_value + 1},
        )
        .returning(DocumentSequence.last_value)
    )
    return (await session.execute(statement)).scalar_one()


async def _tenant_id(session: AsyncSession) -> int:
    schema = session.info.get(TENANT_SCHEMA_KEY)
    tenant_id = await session.scalar(select(Tenant.id).where(Tenant.schema_name == schema))
    if tenant_id is None:
        raise RuntimeError("tickets need a tenant session")
    return tenant_id


async def staff_members(session: AsyncSession) -> list[StaffAccount]:
    """The staff who work for this session's tenant: the people a ticket may go to."""
    query = (
        select(StaffAccount)
        .join(TenantMembership, TenantMembership.staff_id == StaffAccount.id)
        .where(TenantMembership.tenant_id == await _tenant_id(session))
        .where(StaffAccount.is_active)
        .order_by(StaffAccount.name, StaffAccount.email)
    )
    return list(await session.scalars(query))


async def _check_assignee(session: AsyncSession, staff_id: int) -> None:
    member = await session.scalar(
        select(TenantMembership.id)
        .join(StaffAccount, StaffAccount.id == TenantMembership.staff_id)
        .where(TenantMembership.staff_id == staff_id)
        .where(TenantMembership.tenant_id == await _tenant_id(session))
        .where(StaffAccount.is_active)
    )
    if member is None:
        raise TicketError("assignee_staff_id", f"no staff member {staff_id} works for this ISP")


async def get_ticket(session: AsyncSession, ticket_id: int, *, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        # Changes to one ticket queue behind each other; no status change is lost.
        query = query.with_for_update().execution_options(populate_existing=True)
    ticket = await session.scalar(query)
    if ticket is None:
        raise TicketNotFound(f"no ticket with id {ticket_id}")
    return ticket


async def get_thread(session: AsyncSession, ticket_id: int) -> Ticket:
    query = select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.messages))
    ticket = await session.scalar(query.execution_options(populate_existing=True))
    if ticket is None:
        raise TicketNotFound(f"no ticket with id {ticket_id}")
    return ticket


def _message(ticket: Ticket, body: str, kind: AuthorKind, channel: Channel, actor: Actor):
    staff_id = actor.staff_id if kind is AuthorKind.STAFF else None
    return TicketMessage(
        ticket_id=ticket.id,
        author_kind=kind,
        author_label=actor.label,
        author_staff_id=staff_id,
        body=body,
        channel=channel,
    )


async def open_ticket(
    session: AsyncSession,
    *,
    subject: str,
    body: str = "",
    category: TicketCategory | str,
    priority: TicketPriority | str = TicketPriority.NORMAL,
    subscriber_id: int | None = None,
    channel: Channel | str = Channel.WEB,
    author_kind: AuthorKind | str = AuthorKind.STAFF,
    actor: Actor = SYSTEM,
) -> Ticket:
    subject = _clean_subject(subject)
    body = _clean_body(body, required=False)
    category = parse_enum(TicketCategory, "category", category)
    priority = parse_enum(TicketPriority, "priority", priority)
    channel = parse_enum(Channel, "channel", channel)
    author_kind = parse_enum(AuthorKind, "author_kind", author_kind)
    if subscriber_id is not None and await session.get(Subscriber, subscriber_id) is None:
        raise TicketError("subscriber_id", f"no subscriber with id {subscriber_id}")
    if author_kind is AuthorKind.SUBSCRIBER and subscriber_id is None:
        raise TicketError("subscriber_id", "a subscriber's ticket needs subscriber_id")

    ticket = Ticket(
        number=await _next_number(session),
        subscriber_id=subscriber_id,
        subject=subject,
        category=category,
        priority=priority,
        status=TicketStatus.OPEN,
        channel=channel,
        opened_by=actor.label,
        opened_by_staff_id=actor.staff_id,
    )
    session.add(ticket)
    await session.flush()
    if body:
        session.add(_message(ticket, body, author_kind, channel, actor))
        await session.flush()
    await session.refresh(ticket)  # timestamps come from the database
    await emit(
        session,
        "ticket.opened",
        {"ticket_id": ticket.id, "number": ticket.reference, "subscriber_id": subscriber_id},
    )
    return ticket


def _touch(ticket: Ticket) -> datetime:
    now = utcnow()
    ticket.updated_at = now
    return now


def _set_status(ticket: Ticket, new: TicketStatus, now: datetime) -> None:
    ticket.status = new
    if new is TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif new is TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    else:
        # Reopened: the earlier resolution no longer stands.
        ticket.resolved_at = None


async def add_message(
    session: AsyncSession,
    ticket_id: int,
    *,
    body: str,
    author_kind: AuthorKind | str = AuthorKind.STAFF,
    channel: Channel | str = Channel.WEB,
    actor: Actor = SYSTEM,
) -> TicketMessage:
    body = _clean_body(body, required=True)
    author_kind = parse_enum(AuthorKind, "author_kind", author_kind)
    channel = parse_enum(Channel, "channel", channel)
    ticket = await get_ticket(session, ticket_id, for_update=True)
    if ticket.status is TicketStatus.CLOSED:
        raise TransitionNotAllowed("status", f"{ticket.reference} is closed; open a new ticket")
    now = _touch(ticket)
    if author_kind is AuthorKind.STAFF and ticket.first_response_at is None:
        ticket.first_response_at = now
    reopened_to = REOPENED_BY_SUBSCRIBER.get(ticket.status)
    if author_kind is AuthorKind.SUBSCRIBER and reopened_to is not None:
        _set_status(ticket, reopened_to, now)
    message = _message(ticket, body, author_kind, channel, actor)
    session.add(message)
    await session.flush()
    await session.refresh(message)
    await emit(
        session,
        "ticket.updated",
        {
            "ticket_id": ticket.id,
            "change": "message",
            "message_id": message.id,
            "author_kind": author_kind.value,
            "status": ticket.status.value,
        },
    )
    return message


async def _system_note(session: AsyncSession, ticket: Ticket, note: str) -> None:
    # The thread tells the whole story: who moved the ticket, and when.
    session.add(_message(ticket, note, AuthorKind.SYSTEM, Channel.WEB, SYSTEM))
    await session.flush()


async def assign(
    session: AsyncSession, ticket_id: int, staff_id: int | None, *, actor: Actor = SYSTEM
) -> Ticket:
    """Give the ticket to a staff member of this ISP (None: take it off everyone)."""
    if staff_id is not None:
        await _check_assignee(session, staff_id)
    ticket = await get_ticket(session, ticket_id, for_update=True)
    if ticket.status is TicketStatus.CLOSED:
        raise TransitionNotAllowed("status", f"{ticket.reference} is closed")
    if ticket.assignee_staff_id == staff_id:
        return ticket
    previous = ticket.assignee_staff_id
    ticket.assignee_staff_id = staff_id
    _touch(ticket)
    await _system_note(
        session,
        ticket,
        f"Assigned to staff {staff_id} by {actor.label}"
        if staff_id is not None
        else f"Unassigned by {actor.label}",
    )
    await emit(
        session,
        "ticket.updated",
        {
            "ticket_id": ticket.id,
            "change": "assignee",
            "from": previous,
            "to": staff_id,
        },
    )
    return ticket


async def change_status(
    session: AsyncSession, ticket_id: int, status: TicketStatus | str, *, actor: Actor = SYSTEM
) -> Ticket:
    new = parse_enum(TicketStatus, "status", status)
    ticket = await get_ticket(session, ticket_id, for_update=True)
    old = ticket.status
    if new not in ALLOWED_TRANSITIONS[old]:
        raise TransitionNotAllowed(
            "status", f"{ticket.reference} cannot go from {old.value} to {new.value}"
        )
    _set_status(ticket, new, _touch(ticket))
    await _system_note(
        session, ticket, f"Status changed from {old.value} to {new.value} by {actor.label}"
    )
    await emit(
        session,
        "ticket.updated",
        {"ticket_id": ticket.id, "change": "status", "from": old.value, "to": new.value},
    )
    return ticket


async def count_open_tickets(session: AsyncSession) -> int:
    unfinished = Ticket.status.not_in([TicketStatus.RESOLVED, TicketStatus.CLOSED])
    return await session.scalar(select(func.count(Ticket.id)).where(unfinished)) or 0
