"""Many outbox events at once, for batch work (the lifecycle run)."""

from __future__ import annotations

from typing import Any

from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.jobs.outbox import NOTIFY_CHANNEL, OutboxEvent, emit
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession


async def emit_many(session: AsyncSession, topic: str, payloads: list[dict[str, Any]]) -> None:
    """Like outbox.emit for many events of one topic: one insert and one NOTIFY."""
    if not payloads:
        return
    if len(payloads) == 1:
        await emit(session, topic, payloads[0])  # one statement instead of two
        return
    schema = session.info.get(TENANT_SCHEMA_KEY)
    if schema is None:
        raise RuntimeError("emit_many() needs a tenant session")
    await session.execute(
        insert(OutboxEvent), [{"topic": topic, "payload": payload} for payload in payloads]
    )
    await session.execute(
        text("SELECT pg_notify(:channel, :schema)"), {"channel": NOTIFY_CHANNEL, "schema": schema}
    )
