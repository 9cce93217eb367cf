"""The per-router command queue: what Kiunga still has to bring in line on each router.

A command names what to reconcile, never how: `sync_service` means "make the router hold
what the database says about service X", `sync_all` means the same for everything of this
ISP on the router. Applying one twice changes nothing the second time, so a command retried
after a dropped connection or handled twice after an outbox re-send does no harm.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class CommandKind(enum.StrEnum):
    SYNC_SERVICE = "sync_service"  # payload: {"service_id": …}
    SYNC_ALL = "sync_all"  # payload: {}
    CUT_SESSION = "cut_session"  # payload: {"service_id": …}


class CommandStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class RouterCommand(TenantBase):
    __tablename__ = "router_commands"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    # Per router, in the order the commands were queued; applied in this order.
    sequence: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[CommandKind] = mapped_column(text_enum(CommandKind, "router_command_kind"))
    # Ids only: what the command reconciles is read from the database when it is applied.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[CommandStatus] = mapped_column(
        text_enum(CommandStatus, "router_command_status"), default=CommandStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A command the router refused waits until then before it is tried again.
    next_attempt_at: Mapped[datetime | None]
    # The outbox event that queued it, so that a re-sent event queues nothing twice.
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    done_at: Mapped[datetime | None]
    # What applying it changed on the router ("add ppp secret 1234", …), for the console.
    summary: Mapped[str | None] = mapped_column(String(2000))

    __table_args__ = (
        UniqueConstraint("router_id", "sequence"),
        UniqueConstraint("router_id", "event_id", "kind"),
        Index(
            "ix_router_commands_pending",
            "router_id",
            "sequence",
            postgresql_where=text("status = 'pending'"),
        ),
    )
