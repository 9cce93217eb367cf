"""The transactional outbox: domain events written in the same transaction as the change.

A service function calls `emit(session, topic, payload)` inside its tenant transaction.
The row and a NOTIFY are committed (or rolled back) together with the business change, so
the worker learns of an event only after it is durable, and Redis being down delays the
side effects of an event but never loses them.

An event's life: pending (no `dispatched_at`) → dispatched (one job per handler is in the
queue) → completed (every handler finished) or failed (every handler finished, at least one
gave up after its last try). The relay re-sends events dispatched long ago and still not
finished, in case Redis lost their jobs. `OutboxDelivery` tracks each handler of an event,
so a re-send only re-queues the handlers that have not finished.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kiunga.platform.db.base import TenantBase
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

NOTIFY_CHANNEL = "kiunga_outbox"


class OutboxEvent(TenantBase):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When the event's jobs were last handed to the queue.
    dispatched_at: Mapped[datetime | None]
    # How many times the relay handed it to the queue (more than one: Redis lost jobs, or
    # handlers were slow to finish).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Every handler finished successfully.
    completed_at: Mapped[datetime | None]
    # Every handler finished and at least one gave up; kept for an operator to look at.
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_outbox_events_pending",
            "id",
            postgresql_where=text("completed_at IS NULL AND failed_at IS NULL"),
        ),
    )


class OutboxDelivery(TenantBase):
    """One handler's progress on one event. Written by the handler's job in the same
    transaction as the handler's own database work, so "done" and the work commit together."""

    __tablename__ = "outbox_deliveries"

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class FailedJob(TenantBase):
    """A task or periodic job of this tenant that gave up after its last try."""

    __tablename__ = "failed_jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(300))
    function: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    tries: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(server_default=func.now())


async def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxEvent:
    """Record a domain event in the caller's tenant transaction.

    Keep the payload to ids and small facts: handlers read current state from the database.
    """
    schema = session.info.get(TENANT_SCHEMA_KEY)
    if schema is None:
        raise RuntimeError("emit() needs a tenant session")
    # One statement writes the row and queues the NOTIFY, which PostgreSQL delivers only if
    # and when the transaction commits (and once, however many events it holds).
    row = await session.execute(
        insert(OutboxEvent)
        .values(topic=topic, payload=payload)
        .returning(OutboxEvent, func.pg_notify(NOTIFY_CHANNEL, schema))
    )
    return row.first()[0]
