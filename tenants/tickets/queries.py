"""Finding tickets: filters, search by number, subject or subscriber, and pages."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.fence import Fence
from kiunga.tenants.subscribers.fence import confine_by_subscriber
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.tickets.models import NUMBER_PREFIX, Ticket, TicketPriority, TicketStatus
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class TicketFilters:
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee_staff_id: int | None = None
    unassigned: bool = False
    subscriber_id: int | None = None
    search: str = ""
    # A reseller's API key sees only tickets about its own subscribers.
    reseller_id: int | None = None


def parse_reference(text: str) -> int | None:
    """Read a ticket reference (TKT-000123, tkt-123 or 123) as its number, else None."""
    text = text.strip().upper().removeprefix(NUMBER_PREFIX)
    return int(text) if text.isdigit() and len(text) <= 12 else None


def _like_pattern(text: str) -> str:
    # The searcher's % and _ are literal characters, not wildcards.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query, filters: TicketFilters):
    if filters.status is not None:
        query = query.where(Ticket.status == filters.status)
    if filters.priority is not None:
        query = query.where(Ticket.priority == filters.priority)
    if filters.assignee_staff_id is not None:
        query = query.where(Ticket.assignee_staff_id == filters.assignee_staff_id)
    if filters.unassigned:
        query = query.where(Ticket.assignee_staff_id.is_(None))
    if filters.subscriber_id is not None:
        query = query.where(Ticket.subscriber_id == filters.subscriber_id)
    query = confine_by_subscriber(Fence(filters.reseller_id), query, Ticket.subscriber_id)
    search = filters.search.strip()
    if search:
        pattern = _like_pattern(search)
        matches = [
            Ticket.subject.ilike(pattern),
            Ticket.subscriber_id.in_(
                select(Subscriber.id).where(
                    Subscriber.name.ilike(pattern) | Subscriber.account_number.ilike(pattern)
                )
            ),
        ]
        number = parse_reference(search)
        if number is not None:
            matches.append(Ticket.number == number)
        query = query.where(or_(*matches))
    return query


async def list_tickets(
    session: AsyncSession, filters: TicketFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Ticket], int]:
    """A page of tickets, newest first, and how many match in all."""
    total = await session.scalar(_filtered(select(func.count(Ticket.id)), filters)) or 0
    query = _filtered(select(Ticket), filters).order_by(Ticket.id.desc())
    tickets = list(await session.scalars(query.limit(limit).offset(offset)))
    return tickets, total
