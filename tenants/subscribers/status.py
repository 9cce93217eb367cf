"""A subscriber's status and its history.

    lead → pending_installation → active ⇄ suspended
    pending_installation → lead (the installation fell through)
    lead → active (signed up and connected on the spot, e.g. a hotspot or a walk-in)
    any → terminated, which is final

Every change is a row in subscriber_status_changes with who made it and why.
"""

from __future__ import annotations

from kiunga.platform.errors import Kind
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.models import (
    Subscriber,
    SubscriberStatus,
    SubscriberStatusChange,
)
from kiunga.tenants.subscribers.validation import SubscriberError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

S = SubscriberStatus
ALLOWED: dict[SubscriberStatus, frozenset[SubscriberStatus]] = {
    S.LEAD: frozenset({S.PENDING_INSTALLATION, S.ACTIVE, S.TERMINATED}),
    S.PENDING_INSTALLATION: frozenset({S.ACTIVE, S.LEAD, S.TERMINATED}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.TERMINATED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}
MAX_REASON_LENGTH = 500


class InvalidTransition(SubscriberError):
    kind = Kind.CONFLICT

    def __init__(self, from_status: SubscriberStatus, to_status: SubscriberStatus):
        allowed = ", ".join(sorted(s.value for s in ALLOWED[from_status])) or "nothing (final)"
        super().__init__(
            "status",
            f"a {from_status.value} subscriber cannot become {to_status.value}; allowed: {allowed}",
        )


def can_change(from_status: SubscriberStatus, to_status: SubscriberStatus) -> bool:
    return to_status in ALLOWED[from_status]


def change_row(
    subscriber_id: int,
    from_status: SubscriberStatus | None,
    to_status: SubscriberStatus,
    reason: str,
    actor: Actor,
) -> SubscriberStatusChange:
    return SubscriberStatusChange(
        subscriber_id=subscriber_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        changed_by_staff_id=actor.staff_id,
        changed_by=actor.label[:60],
    )


async def set_status(
    session: AsyncSession,
    subscriber_id: int,
    to_status: SubscriberStatus | str,
    *,
    reason: str,
    actor: Actor,
) -> Subscriber:
    """Move a subscriber to `to_status` and record it. Asking for the status it already has
    changes nothing (a repeated suspension is not an error); a move the lifecycle does not
    allow raises InvalidTransition. The subscriber row is locked for the change."""
    from kiunga.tenants.subscribers.service import SubscriberNotFound

    target = SubscriberStatus(to_status)
    query = select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
    subscriber = await session.scalar(query)
    if subscriber is None:
        raise SubscriberNotFound(f"no subscriber with id {subscriber_id}")
    current = subscriber.status
    if current == target:
        return subscriber
    if not can_change(current, target):
        raise InvalidTransition(current, target)
    reason = (reason or "").strip()[:MAX_REASON_LENGTH]
    subscriber.status = target
    session.add(change_row(subscriber.id, current, target, reason, actor))
    await session.flush()
    await emit(
        session,
        "subscriber.status_changed",
        {"subscriber_id": subscriber.id, "from": current.value, "to": target.value},
    )
    return subscriber


async def status_history(session: AsyncSession, subscriber_id: int) -> list[SubscriberStatusChange]:
    query = (
        select(SubscriberStatusChange)
        .where(SubscriberStatusChange.subscriber_id == subscriber_id)
        .order_by(SubscriberStatusChange.changed_at, SubscriberStatusChange.id)
    )
    return list(await session.scalars(query))
