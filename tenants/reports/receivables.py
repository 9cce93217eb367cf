"""Overdue aging: what is still owed on issued invoices past their due date, by age."""

from __future__ import annotations

from datetime import timedelta

from kiunga.platform.db.base import utcnow
from kiunga.tenants.billing.allocation import invoice_remaining_query
from kiunga.tenants.reports.period import Period
from kiunga.tenants.reports.tables import Table
from sqlalchemy import Date, Integer, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

BUCKETS = (("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))


async def overdue_aging(session: AsyncSession, period: Period) -> Table:
    """Open remainders by days overdue as of the period's last day (or now, if sooner).

    Days overdue count local calendar days from the due date: an invoice due yesterday is
    one day overdue. The remainders are today's (payments since the as-of day count), so
    a past as-of day shows what is still unpaid of what was overdue then.
    """
    as_of = min(period.end, utcnow())
    as_of_day = (as_of - timedelta(microseconds=1)).astimezone(period.zone).date()
    open_invoices = invoice_remaining_query().subquery()
    due_day = cast(func.timezone(period.timezone, open_invoices.c.due_at), Date)
    days = cast(literal(as_of_day, Date) - due_day, Integer)
    bucket = case(
        *((days <= high, name) for name, _low, high in BUCKETS if high is not None),
        else_=BUCKETS[-1][0],
    )
    query = (
        select(bucket, func.count(), func.sum(open_invoices.c.remaining))
        .where(open_invoices.c.remaining > 0, open_invoices.c.due_at < as_of)
        .group_by(bucket)
    )
    found = {name: (count, int(amount)) for name, count, amount in await session.execute(query)}
    table = Table(["bucket", "invoices", "amount"])
    for name, _low, _high in BUCKETS:
        table.add(name, *found.get(name, (0, 0)))
    return table
