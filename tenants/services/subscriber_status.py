"""A subscriber's status follows their services, for one subscriber or thousands at once.

active     when any service is active;
suspended  when none is active and any is suspended or expired (cut off, can come back);
terminated when every service is terminated;
otherwise (no services, or only pending ones) the status is left as staff set it (lead,
pending installation). A move the subscribers' lifecycle does not allow (out of terminated)
is never made.

Changes are written in a handful of statements whatever their number (the lifecycle run
suspends thousands; a payment restores one): the same history rows and
subscriber.status_changed events that subscribers' `set_status` writes one by one, which
`bulk_from` can still choose for small sets.
"""

from __future__ import annotations

from collections.abc import Iterable

from kiunga.tenants.actors import Actor
from kiunga.tenants.services.events import emit_many
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import (
    Subscriber,
    SubscriberStatus,
    SubscriberStatusChange,
)
from kiunga.tenants.subscribers.status import MAX_REASON_LENGTH, can_change, set_status
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

BULK_FROM = 1


def _derived_status():
    def any_of(*statuses):
        return func.bool_or(Service.status.in_(statuses))

    return case(
        (any_of(ServiceStatus.ACTIVE), SubscriberStatus.ACTIVE.value),
        (any_of(ServiceStatus.SUSPENDED, ServiceStatus.EXPIRED), SubscriberStatus.SUSPENDED.value),
        (
            func.bool_and(Service.status == ServiceStatus.TERMINATED),
            SubscriberStatus.TERMINATED.value,
        ),
        else_=None,
    )


async def _changes(
    session: AsyncSession, ids: list[int]
) -> dict[int, tuple[SubscriberStatus, SubscriberStatus]]:
    derived = (
        select(Service.subscriber_id, _derived_status().label("derived"))
        .where(Service.subscriber_id.in_(ids))
        .group_by(Service.subscriber_id)
        .subquery()
    )
    rows = await session.execute(
        select(Subscriber.id, Subscriber.status, derived.c.derived)
        .join(derived, derived.c.subscriber_id == Subscriber.id)
        .where(derived.c.derived.is_not(None), Subscriber.status != derived.c.derived)
        .order_by(Subscriber.id)
        .with_for_update(of=Subscriber)
    )
    changes = {}
    for subscriber_id, current, derived_status in rows:
        target = SubscriberStatus(derived_status)
        if can_change(current, target):
            changes[subscriber_id] = (current, target)
    return changes


async def _apply_in_bulk(session, changes, reason: str, actor: Actor) -> None:
    by_target: dict[SubscriberStatus, list[int]] = {}
    for subscriber_id, (_, target) in changes.items():
        by_target.setdefault(target, []).append(subscriber_id)
    for target, target_ids in by_target.items():
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(target_ids))
            .values(status=target, updated_at=func.now())
            .execution_options(synchronize_session="fetch")
        )
    await session.execute(
        insert(SubscriberStatusChange),
        [
            {
                "subscriber_id": subscriber_id,
                "from_status": old,
                "to_status": new,
                "reason": reason,
                "changed_by_staff_id": actor.staff_id,
                "changed_by": actor.label[:60],
            }
            for subscriber_id, (old, new) in changes.items()
        ],
    )
    await emit_many(
        session,
        "subscriber.status_changed",
        [
            {"subscriber_id": subscriber_id, "from": old.value, "to": new.value}
            for subscriber_id, (old, new) in changes.items()
        ],
    )


async def sync_subscriber_statuses(
    session: AsyncSession,
    subscriber_ids: Iterable[int],
    *,
    reason: str,
    actor: Actor,
    bulk_from: int = BULK_FROM,
) -> dict[int, SubscriberStatus]:
    """Bring the subscribers' statuses in line with their services; returns the changes."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return {}
    await session.flush()
    changes = await _changes(session, ids)
    if not changes:
        return {}
    reason = reason.strip()[:MAX_REASON_LENGTH]
    if len(changes) >= bulk_from:
        await _apply_in_bulk(session, changes, reason, actor)
    else:
        for subscriber_id, (_, target) in changes.items():
            await set_status(session, subscriber_id, target, reason=reason, actor=actor)
    return {subscriber_id: new for subscriber_id, (_, new) in changes.items()}
