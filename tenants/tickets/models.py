from __future__ import annotations

import enum
from datetime import datetime

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class TicketCategory(enum.StrEnum):
    CONNECTIVITY = "connectivity"
    BILLING = "billing"
    INSTALLATION = "installation"
    RELOCATION = "relocation"
    OTHER = "other"


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_SUBSCRIBER = "waiting_on_subscriber"
    RESOLVED = "resolved"
    CLOSED = "closed"


class AuthorKind(enum.StrEnum):
    STAFF = "staff"
    SUBSCRIBER = "subscriber"
    SYSTEM = "system"


class Channel(enum.StrEnum):
    WEB = "web"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    USSD = "ussd"
    API = "api"


NUMBER_PREFIX = "TKT-"


class Ticket(TenantBase):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    # None for an internal ticket (a mast to inspect, a router to replace).
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id"))
    subject: Mapped[str] = mapped_column(String(200))
    category: Mapped[TicketCategory] = mapped_column(text_enum(TicketCategory, "ticket_category"))
    priority: Mapped[TicketPriority] = mapped_column(
        text_enum(TicketPriority, "ticket_priority"), default=TicketPriority.NORMAL
    )
    status: Mapped[TicketStatus] = mapped_column(
        text_enum(TicketStatus, "ticket_status"), default=TicketStatus.OPEN
    )
    channel: Mapped[Channel] = mapped_column(text_enum(Channel, "ticket_channel"))
    # platform.staff_accounts.id; not a foreign key because it lives in another schema.
    assignee_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_by: Mapped[str] = mapped_column(String(260))
    opened_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket",
        cascade="all, delete-orphan",
        order_by="TicketMessage.id",
        lazy="raise",
    )

    __table_args__ = (
        CheckConstraint("number > 0", name="number_positive"),
        Index("ix_tickets_status_priority", "status", "priority"),
        Index("ix_tickets_assignee_staff_id", "assignee_staff_id"),
        Index("ix_tickets_subscriber_id", "subscriber_id"),
    )

    @property
    def reference(self) -> str:
        return f"{NUMBER_PREFIX}{self.number:06d}"


class TicketMessage(TenantBase):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_kind: Mapped[AuthorKind] = mapped_column(text_enum(AuthorKind, "ticket_author_kind"))
    # Who wrote it, for people to read: a staff email, an API key, a phone number, "system".
    author_label: Mapped[str] = mapped_column(String(260))
    author_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[Channel] = mapped_column(text_enum(Channel, "ticket_channel"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
