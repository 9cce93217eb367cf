"""Queuing provisioning commands, in the caller's transaction, and reading them back.

Each router's commands are numbered 1, 2, 3… (`sequence`) in the order they were queued,
and applied in that order. A command queued by an outbox event remembers the event, so an
event handled twice queues nothing twice.
"""

from __future__ import annotations

from typing import Any

from kiunga.tenants.network.provisioning.desired import routers_for_service
from kiunga.tenants.network.provisioning.models import (
    CommandKind,
    CommandStatus,
    RouterCommand,
)
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

# Two transactions numbering one router's commands at once: the loser tries again.
_NUMBERING_TRIES = 50


async def enqueue(
    session: AsyncSession,
    router_id: int,
    kind: CommandKind,
    payload: dict[str, Any] | None = None,
    *,
    event_id: int | None = None,
) -> RouterCommand | None:
    """Queue a command for a router; None when this event already queued it."""
    for _ in range(_NUMBERING_TRIES):
        next_sequence = (
            select(func.coalesce(func.max(RouterCommand.sequence), 0) + 1)
            .where(RouterCommand.router_id == router_id)
            .scalar_subquery()
        )
        # A concurrent insert of the same number makes this one wait for its commit and
        # then do nothing; the next statement sees that number taken.
        command_id = await session.scalar(
            insert(RouterCommand)
            .values(
                router_id=router_id,
                sequence=next_sequence,
                kind=kind,
                payload=payload or {},
                status=CommandStatus.PENDING,
                attempts=0,
                event_id=event_id,
            )
            .on_conflict_do_nothing()
            .returning(RouterCommand.id)
        )
        if command_id is not None:
            return await session.get(RouterCommand, command_id)
        if event_id is not None and await session.scalar(
            select(RouterCommand.id).where(
                RouterCommand.router_id == router_id,
                RouterCommand.event_id == event_id,
                RouterCommand.kind == kind,
            )
        ):
            return None
    raise RuntimeError(f"could not number a command for router {router_id}")


async def enqueue_for_service(
    session: AsyncSession, service_id: int, *, event_id: int | None = None
) -> list[int]:
    """A sync_service command on every api-mode router that holds the service (or held
    it: a terminated service is removed). Returns the routers' ids."""
    router_ids = await routers_for_service(session, service_id)
    for router_id in router_ids:
        await enqueue(
            session,
            router_id,
            CommandKind.SYNC_SERVICE,
            {"service_id": service_id},
            event_id=event_id,
        )
    return router_ids


async def enqueue_sync_all(
    session: AsyncSession, router_id: int, *, event_id: int | None = None
) -> RouterCommand | None:
    """A full reconciliation, unless one is already waiting to run (it will do)."""
    waiting = await session.scalar(
        select(RouterCommand)
        .where(
            RouterCommand.router_id == router_id,
            RouterCommand.kind == CommandKind.SYNC_ALL,
            RouterCommand.status == CommandStatus.PENDING,
            RouterCommand.attempts == 0,
        )
        .order_by(RouterCommand.sequence)
        .limit(1)
    )
    if waiting is not None:
        return waiting
    return await enqueue(session, router_id, CommandKind.SYNC_ALL, event_id=event_id)


async def pending_count(session: AsyncSession, router_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(RouterCommand)
            .where(
                RouterCommand.router_id == router_id,
                RouterCommand.status == CommandStatus.PENDING,
            )
        )
        or 0
    )


async def recent_commands(
    session: AsyncSession, router_id: int, *, limit: int = 10, offset: int = 0
) -> list[RouterCommand]:
    """A router's commands, newest first."""
    return list(
        await session.scalars(
            select(RouterCommand)
            .where(RouterCommand.router_id == router_id)
            .order_by(RouterCommand.sequence.desc())
            .limit(limit)
            .offset(offset)
        )
    )
