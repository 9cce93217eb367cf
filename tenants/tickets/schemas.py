"""What the tickets API reads and writes."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Id, Text
from kiunga.tenants.tickets.models import Ticket, TicketMessage


class TicketCreate(msgspec.Struct, forbid_unknown_fields=True):
    subject: Text
    category: Text
    body: Text = ""
    priority: Text = "normal"
    subscriber_id: Id | None = None
    channel: Text = "api"
    # "subscriber" when an integration relays what a subscriber wrote.
    author_kind: Text = "staff"


class MessageCreate(msgspec.Struct, forbid_unknown_fields=True):
    body: Text
    channel: Text = "api"
    author_kind: Text = "staff"


class AssignmentChange(msgspec.Struct, forbid_unknown_fields=True):
    # None takes the ticket off everyone.
    assignee_staff_id: Id | None


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: Text


class MessageRead(msgspec.Struct):
    id: int
    author_kind: str
    author_label: str
    author_staff_id: int | None
    body: str
    channel: str
    created_at: datetime

    @classmethod
    def of(cls, message: TicketMessage) -> MessageRead:
        return cls(
            id=message.id,
            author_kind=message.author_kind.value,
            author_label=message.author_label,
            author_staff_id=message.author_staff_id,
            body=message.body,
            channel=message.channel.value,
            created_at=message.created_at,
        )


class TicketRead(msgspec.Struct):
    id: int
    number: str
    subject: str
    subscriber_id: int | None
    category: str
    priority: str
    status: str
    channel: str
    assignee_staff_id: int | None
    opened_by: str
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # Only on a single ticket's page; a list leaves it out.
    messages: list[MessageRead] | None = None

    @classmethod
    def of(cls, ticket: Ticket, *, with_thread: bool = False) -> TicketRead:
        return cls(
            id=ticket.id,
            number=ticket.reference,
            subject=ticket.subject,
            subscriber_id=ticket.subscriber_id,
            category=ticket.category.value,
            priority=ticket.priority.value,
            status=ticket.status.value,
            channel=ticket.channel.value,
            assignee_staff_id=ticket.assignee_staff_id,
            opened_by=ticket.opened_by,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            first_response_at=ticket.first_response_at,
            resolved_at=ticket.resolved_at,
            closed_at=ticket.closed_at,
            messages=[MessageRead.of(m) for m in ticket.messages] if with_thread else None,
        )


class TicketPage(msgspec.Struct):
    items: list[TicketRead]
    total: int
    limit: int
    offset: int
