"""The last look at the queue before the sender takes messages from it: run in the claim's
own transaction, right before it picks what goes now.

A message can wait well past the moment it was queued for (a retry's backoff, a provider
down, the ISP's send rate, a message in doubt) and so reach its send time in the next quiet
hours, or after its news went stale. What `queue_message` decided then is decided again now:

- quiet hours: a non-urgent message (a reminder, a campaign) due during the ISP's quiet
  hours, in the ISP's time zone, is put off to their end instead of sent (the minute's
  sweep sends it then). Urgent ones (receipts, codes, ticket replies, sign-in codes) are
  never held.
- stale news: a notification whose news no longer holds (a due-soon reminder for a bill
  paid meanwhile, a suspension lifted: notifications.no_longer_true) is cancelled with the
  reason, urgent or not. Only the messages about to be claimed are looked at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiunga.channels.messages.models import ChannelSettings, Direction, Message, MessageStatus
from kiunga.channels.messages.notifications import RECHECKED_KINDS, no_longer_true
from kiunga.channels.messages.outbound import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    quiet_until,
)
from kiunga.platform.db.base import utcnow
from kiunga.tenants.zones import tenant_zone
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.messages.holds")

WAITING = (MessageStatus.QUEUED, MessageStatus.IN_DOUBT)


@dataclass
class Held:
    """What the look changed: messages put off to the end of quiet hours (until
    `quiet_until`), and messages cancelled as stale."""

    put_off: int = 0
    cancelled: int = 0
    quiet_until: datetime | None = None


async def quiet_hours_end(session: AsyncSession, now: datetime) -> datetime | None:
    """The end of the ISP's quiet hours when `now` is in them, else None."""
    settings = await session.get(ChannelSettings, 1)
    start = settings.quiet_hours_start if settings else DEFAULT_QUIET_START
    end = settings.quiet_hours_end if settings else DEFAULT_QUIET_END
    if start is None or end is None or start == end:
        return None
    return quiet_until(now, await tenant_zone(session), start, end)


async def hold_back(session: AsyncSession, *, limit: int, now: datetime | None = None) -> Held:
    """Put off and cancel, among the messages due at `now` (the database's clock when
    none is given; tests give one), what must not go now. The caller's transaction."""
    held = Held()
    moment = now or utcnow()
    # Due as the claim sees it: by the database's clock, unless a moment is given.
    due_by = now if now is not None else func.now()
    due = (
        Message.direction == Direction.OUT,
        Message.status.in_(WAITING),
        Message.send_after <= due_by,
    )
    held.quiet_until = await quiet_hours_end(session, moment)
    if held.quiet_until is not None:
        # Rows another transaction holds are left to the next look, as the claim leaves
        # them: waiting for them could deadlock with a write that locks in another order.
        waiting = (
            select(Message.id)
            .where(*due, Message.urgent.is_(False))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        put_off = await session.execute(
            update(Message)
            .where(Message.id.in_(waiting))
            .values(send_after=held.quiet_until)
            .execution_options(synchronize_session=False)
        )
        held.put_off = put_off.rowcount or 0
    # The next `limit` due are what the claim takes; each one cancelled lets a later one
    # in, which is looked at in turn.
    looked_at: set[int] = set()
    while True:
        rows = (
            await session.execute(
                select(Message.id, Message.kind, Message.dedupe_key)
                .where(*due)
                .order_by(Message.send_after, Message.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        cancelled = 0
        for row in rows:
            if row.id in looked_at or row.kind not in RECHECKED_KINDS:
                continue
            looked_at.add(row.id)
            if not (row.dedupe_key or "").startswith(f"{row.kind}:"):
                continue  # not a notification of the other areas' events
            reason = await _looked_again(session, row, moment)
            if reason is None:
                continue
            await session.execute(
                update(Message)
                .where(Message.id == row.id)
                .values(status=MessageStatus.CANCELLED, claimed_until=None, last_error=reason)
                .execution_options(synchronize_session=False)
            )
            cancelled += 1
        if not cancelled:
            return held
        held.cancelled += cancelled


async def _looked_again(session: AsyncSession, row: Any, now: datetime) -> str | None:
    """notifications.no_longer_true for one message, in a savepoint: a check that fails
    (a bug, a payload not as expected) sends the message rather than stopping the queue."""
    try:
        async with session.begin_nested():
            return await no_longer_true(session, row.kind, row.dedupe_key, now=now)
    except Exception:
        log.exception("message %s: could not tell whether its news still holds", row.id)
        return None
