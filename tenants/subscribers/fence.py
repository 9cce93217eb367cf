"""A caller's fence (`kiunga.platform.auth.fence`) over subscribers and what hangs off one:
services, bills and tickets are inside a reseller's fence when their subscriber is."""

from __future__ import annotations

from kiunga.platform.auth.fence import Fence
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession


def subscribers_inside(fence: Fence) -> Select:
    return fence.confine(select(Subscriber.id), Subscriber.reseller_id)


def confine_by_subscriber(fence: Fence, query, subscriber_column):
    """`query` narrowed to rows whose `subscriber_column` names a subscriber inside."""
    if fence.whole_isp:
        return query
    return query.where(subscriber_column.in_(subscribers_inside(fence)))


async def inside_fence(session: AsyncSession, fence: Fence, subscriber_id: int | None) -> bool:
    """Whether what belongs to `subscriber_id` is inside: always for the whole ISP; for a
    reseller, when that subscriber exists and is theirs (a row about no subscriber is not)."""
    if fence.whole_isp:
        return True
    if subscriber_id is None:
        return False
    subscriber = await session.get(Subscriber, subscriber_id)
    return subscriber is not None and fence.admits(subscriber.reseller_id)
