"""Set-based helpers for the lifecycle run: balances of many subscribers in one query, and
who owes what by when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kiunga.tenants.billing.allocation import invoice_remaining_query
from kiunga.tenants.billing.models import Account, Invoice, LedgerEntry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def balances(session: AsyncSession, subscriber_ids: Iterable[int]) -> dict[int, int]:
    """Each subscriber's balance (the sum of their entries; 0 without an account)."""
    ids = list(set(subscriber_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Account.subscriber_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
        .outerjoin(LedgerEntry, LedgerEntry.account_id == Account.id)
        .where(Account.subscriber_id.in_(ids))
        .group_by(Account.subscriber_id)
    )
    found = {subscriber_id: int(total) for subscriber_id, total in rows}
    return {subscriber_id: found.get(subscriber_id, 0) for subscriber_id in ids}


def subscribers_owing(*, due_by: datetime, due_after: datetime | None = None):
    """A subquery of subscriber ids with something left to pay on invoices due by `due_by`
    (and after `due_after`, when given)."""
    remaining = invoice_remaining_query().where(Invoice.due_at <= due_by)
    if due_after is not None:
        remaining = remaining.where(Invoice.due_at > due_after)
    rows = remaining.subquery()
    return select(rows.c.subscriber_id).where(rows.c.remaining > 0).distinct()
