"""Subscriber figures: counts by status, monthly churn, package popularity."""

from __future__ import annotations

from datetime import datetime

from kiunga.tenants.catalog.models import Package
from kiunga.tenants.reports.period import Period
from kiunga.tenants.reports.tables import Table, percentage
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import (
    Subscriber,
    SubscriberStatus,
    SubscriberStatusChange,
)
from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

History = SubscriberStatusChange


def status_at(moment: datetime):
    """(subscriber_id, status) as each subscriber stood just before `moment`, read from the
    status history (the current status column cannot answer for the past)."""
    return (
        select(History.subscriber_id, History.to_status.label("status"))
        .ext(distinct_on(History.subscriber_id))
        .where(History.changed_at < moment)
        .order_by(History.subscriber_id, History.changed_at.desc(), History.id.desc())
        .subquery()
    )


def active_at(moment: datetime):
    standing = status_at(moment)
    return select(standing.c.subscriber_id).where(standing.c.status == SubscriberStatus.ACTIVE)


def active_during(start: datetime, end: datetime):
    """Subscribers active at some point in [start, end): active at its start, or made
    active within it."""
    became_active = select(History.subscriber_id).where(
        History.to_status == SubscriberStatus.ACTIVE,
        History.changed_at >= start,
        History.changed_at < end,
    )
    return active_at(start).union(became_active).subquery()


async def status_counts(session: AsyncSession, _period: Period) -> Table:
    """How many subscribers stand in each status now (every status listed, zeros too)."""
    counts = dict(
        (
            await session.execute(
                select(Subscriber.status, func.count(Subscriber.id)).group_by(Subscriber.status)
            )
        ).all()
    )
    table = Table(["status", "subscribers"])
    for status in SubscriberStatus:
        table.add(status.value, counts.get(status, 0))
    return table


async def monthly_churn(session: AsyncSession, period: Period) -> Table:
    """Per month: subscribers terminated in it over those active at its start."""
    table = Table(["month", "active_at_start", "terminated", "churn_percent"])
    for month, start, end in period.months():
        active = await session.scalar(select(func.count()).select_from(active_at(start).subquery()))
        terminated = await session.scalar(
            select(func.count(distinct(History.subscriber_id))).where(
                History.to_status == SubscriberStatus.TERMINATED,
                History.changed_at >= start,
                History.changed_at < end,
            )
        )
        table.add(
            month.strftime("%Y-%m"),
            active or 0,
            terminated or 0,
            percentage(terminated or 0, active or 0),
        )
    return table


async def package_popularity(session: AsyncSession, period: Period) -> Table:
    """Per package: live services now, and services activated within the period."""
    activated_in_period = and_(
        Service.activated_at >= period.start, Service.activated_at < period.end
    )
    live = Service.status.in_([ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED])
    query = (
        select(
            Package.name,
            func.count(Service.id).filter(Service.status == ServiceStatus.ACTIVE),
            func.count(Service.id).filter(Service.status == ServiceStatus.SUSPENDED),
            func.count(distinct(Service.subscriber_id)).filter(live),
            func.count(Service.id).filter(activated_in_period),
        )
        .outerjoin(Service, Service.package_id == Package.id)
        .where(or_(Package.archived_at.is_(None), Service.id.is_not(None)))
        .group_by(Package.id, Package.name)
        .order_by(func.count(Service.id).filter(live).desc(), Package.name)
    )
    table = Table(
        ["package", "active_services", "suspended_services", "subscribers", "activated_in_period"]
    )
    for row in (await session.execute(query)).all():
        table.add(*row)
    return table
