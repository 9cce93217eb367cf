"""Data usage from RADIUS accounting: what each subscriber moved in the period.

Usage is counted per UTC day (RADIUS accounting's days), so the period's local dates are
taken as UTC dates here: at most a few hours of the first and last day fall on either side.
Input octets are what the subscriber sent (upload), output what the router sent them
(download), as the NAS reports them.
"""

from __future__ import annotations

from kiunga.tenants.network.radius.models import UsageDaily
from kiunga.tenants.reports.period import Period
from kiunga.tenants.reports.tables import Table
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def usage_by_subscriber(session: AsyncSession, period: Period) -> Table:
    download = func.sum(UsageDaily.output_octets)
    upload = func.sum(UsageDaily.input_octets)
    rows = await session.execute(
        select(
            Subscriber.account_number,
            Subscriber.name,
            download.label("download"),
            upload.label("upload"),
            func.count(func.distinct(UsageDaily.day)).label("days"),
        )
        .join(Subscriber, Subscriber.id == UsageDaily.subscriber_id)
        .where(UsageDaily.day >= period.first_day, UsageDaily.day <= period.last_day)
        .group_by(Subscriber.id)
        .order_by((download + upload).desc(), Subscriber.account_number)
    )
    table = Table(
        ["account_number", "name", "download_bytes", "upload_bytes", "total_bytes", "days"]
    )
    for account, name, down, up, days in rows:
        table.add(account, name, int(down), int(up), int(down) + int(up), days)
    return table
