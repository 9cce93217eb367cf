"""Money received: payments by local day and month, by package, by region; ARPU.

Revenue here is cash in (payments received in the period), not invoiced amounts.
"""

from __future__ import annotations

from datetime import date, timedelta

from kiunga.tenants.billing.models import Allocation, Invoice, InvoiceLine, Payment
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.reports.period import Period
from kiunga.tenants.reports.subscribers import active_during
from kiunga.tenants.reports.tables import Table, rounded_share
from kiunga.tenants.services.models import Service
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import Date, Numeric, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

NO_PACKAGE = "(no package)"
UNALLOCATED = "(not yet allocated)"
NO_REGION = "(no region)"


def _in_period(period: Period):
    return (Payment.received_at >= period.start, Payment.received_at < period.end)


def _local(period: Period, column):
    return func.timezone(period.timezone, column)


async def _by_bucket(session: AsyncSession, period: Period, unit: str) -> dict[date, tuple]:
    bucket = cast(func.date_trunc(unit, _local(period, Payment.received_at)), Date)
    query = (
        select(bucket, func.count(Payment.id), func.sum(Payment.amount))
        .where(*_in_period(period))
        .group_by(bucket)
    )
    return {row[0]: (row[1], int(row[2])) for row in (await session.execute(query)).all()}


async def revenue_by_day(session: AsyncSession, period: Period) -> Table:
    found = await _by_bucket(session, period, "day")
    table = Table(["day", "payments", "amount"])
    day = period.first_day
    while day <= period.last_day:  # quiet days show as zero, so a chart has no holes
        table.add(day, *found.get(day, (0, 0)))
        day += timedelta(days=1)
    return table


async def revenue_by_month(session: AsyncSession, period: Period) -> Table:
    found = await _by_bucket(session, period, "month")
    table = Table(["month", "payments", "amount"])
    for month, _start, _end in period.months():
        table.add(month.strftime("%Y-%m"), *found.get(month, (0, 0)))
    return table


async def revenue_by_package(session: AsyncSession, period: Period) -> Table:
    """Payments in the period as allocated to invoice lines, by the line's package.

    An allocation pays an invoice as a whole, so it is shared over the invoice's lines in
    proportion to their amounts. What is still on account shows as its own row.
    """
    share = cast(Allocation.amount, Numeric) * InvoiceLine.amount / Invoice.total
    package = func.coalesce(Package.name, NO_PACKAGE)
    query = (
        select(package, func.round(func.sum(share)))
        .select_from(Allocation)
        .join(Payment, Payment.id == Allocation.payment_id)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .outerjoin(Service, Service.id == InvoiceLine.service_id)
        .outerjoin(Package, Package.id == Service.package_id)
        .where(*_in_period(period), Invoice.total > 0)
        .group_by(package)
        .order_by(func.sum(share).desc(), package)
    )
    table = Table(["package", "amount"])
    for name, amount in (await session.execute(query)).all():
        table.add(name, int(amount))
    allocated = (
        select(Allocation.payment_id, func.sum(Allocation.amount).label("amount"))
        .group_by(Allocation.payment_id)
        .subquery()
    )
    on_account = await session.scalar(
        select(func.sum(Payment.amount - func.coalesce(allocated.c.amount, 0)))
        .outerjoin(allocated, allocated.c.payment_id == Payment.id)
        .where(*_in_period(period))
    )
    if on_account:
        table.add(UNALLOCATED, int(on_account))
    return table


async def revenue_by_region(session: AsyncSession, period: Period) -> Table:
    region = func.coalesce(func.nullif(Subscriber.region, ""), NO_REGION)
    query = (
        select(region, func.count(Payment.id), func.sum(Payment.amount))
        .join(Subscriber, Subscriber.id == Payment.subscriber_id)
        .where(*_in_period(period))
        .group_by(region)
        .order_by(func.sum(Payment.amount).desc(), region)
    )
    table = Table(["region", "payments", "amount"])
    for name, count, amount in (await session.execute(query)).all():
        table.add(name, count, int(amount))
    return table


async def arpu(session: AsyncSession, period: Period) -> Table:
    """Per month: revenue over the subscribers active at some point in that month."""
    table = Table(["month", "revenue", "active_subscribers", "arpu"])
    for month, start, end in period.months():
        revenue = await session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.received_at >= start, Payment.received_at < end
            )
        )
        active = await session.scalar(select(func.count()).select_from(active_during(start, end)))
        table.add(
            month.strftime("%Y-%m"), int(revenue), active, rounded_share(int(revenue), active)
        )
    return table
