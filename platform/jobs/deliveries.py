"""Bookkeeping of which handlers have finished which events, and when an event is done.

Lock order, to stay clear of deadlocks: a handler's job holds its delivery row, then takes
the event row last, with FOR NO KEY UPDATE. That lock does not conflict with the KEY SHARE
lock PostgreSQL takes on the event when a delivery row referencing it is written, so two
handlers of one event wait for each other only in the short final step, never in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.outbox import OutboxDelivery, OutboxEvent
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

MAX_ERROR_LENGTH = 4000


def describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_LENGTH]


async def finished_handlers(
    session: AsyncSession, event_ids: Sequence[int]
) -> dict[int, dict[str, bool]]:
    """For each event, the handlers that finished, mapped to whether they failed."""
    rows = await session.execute(
        select(OutboxDelivery.event_id, OutboxDelivery.handler, OutboxDelivery.failed_at).where(
            OutboxDelivery.event_id.in_(event_ids),
            (OutboxDelivery.completed_at.is_not(None)) | (OutboxDelivery.failed_at.is_not(None)),
        )
    )
    finished: dict[int, dict[str, bool]] = {}
    for event_id, handler, failed_at in rows:
        finished.setdefault(event_id, {})[handler] = failed_at is not None
    return finished


async def finalize_event(session: AsyncSession, event_id: int, handlers: Iterable[str]) -> None:
    """Close the event if every one of `handlers` has finished it."""
    names = set(handlers)
    await session.flush()
    # Serialises the last step of the event's handlers, so exactly one of them sees all
    # the others' committed rows and closes the event.
    await session.execute(
        select(OutboxEvent.id).where(OutboxEvent.id == event_id).with_for_update(key_share=True)
    )
    finished = (await finished_handlers(session, [event_id])).get(event_id, {})
    if not names <= finished.keys():
        return
    if any(finished[name] for name in names):
        values = {"failed_at": func.now()}
    else:
        values = {"completed_at": func.now()}
    await session.execute(update(OutboxEvent).where(OutboxEvent.id == event_id).values(**values))


async def record_delivery_failure(
    database: Database,
    schema: str,
    event_id: int,
    handler: str,
    error: str,
    *,
    final: bool,
    handlers: Iterable[str],
) -> None:
    """Note a failed try in its own transaction (the handler's own one rolled back); on the
    last try mark the handler failed, which may close the event as failed."""
    failed_at = func.now() if final else None
    table = OutboxDelivery.__table__
    async with database.tenant_session(schema) as session, session.begin():
        await session.execute(
            insert(OutboxDelivery)
            .values(
                event_id=event_id,
                handler=handler,
                attempts=1,
                last_error=error,
                failed_at=failed_at,
            )
            .on_conflict_do_update(
                index_elements=[table.c.event_id, table.c.handler],
                set_={
                    "attempts": table.c.attempts + 1,
                    "last_error": error,
                    "failed_at": failed_at,
                },
            )
        )
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == event_id).values(last_error=error)
        )
        if final:
            await finalize_event(session, event_id, handlers)
