"""Every report by the name it has in URLs, with a line saying what it counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kiunga.tenants.reports import receivables, revenue, subscribers, usage
from kiunga.tenants.reports.period import Period
from kiunga.tenants.reports.tables import Table
from sqlalchemy.ext.asyncio import AsyncSession

ReportFunction = Callable[[AsyncSession, Period], Awaitable[Table]]


@dataclass(frozen=True, slots=True)
class ReportKind:
    name: str
    title: str
    description: str
    run: ReportFunction


REPORTS: dict[str, ReportKind] = {
    kind.name: kind
    for kind in (
        ReportKind(
            "subscriber-status",
            "Subscribers by status",
            "How many subscribers are active, suspended, … now.",
            subscribers.status_counts,
        ),
        ReportKind(
            "revenue-by-day",
            "Revenue by day",
            "Payments received per local day.",
            revenue.revenue_by_day,
        ),
        ReportKind(
            "revenue-by-month",
            "Revenue by month",
            "Payments received per local month.",
            revenue.revenue_by_month,
        ),
        ReportKind(
            "revenue-by-package",
            "Revenue by package",
            "Payments received, as allocated to each package's invoice lines.",
            revenue.revenue_by_package,
        ),
        ReportKind(
            "revenue-by-region",
            "Revenue by region",
            "Payments received, by the paying subscriber's region.",
            revenue.revenue_by_region,
        ),
        ReportKind(
            "overdue-aging",
            "Overdue aging",
            "Unpaid remainders of overdue invoices as of `to`, by days overdue.",
            receivables.overdue_aging,
        ),
        ReportKind(
            "churn",
            "Monthly churn",
            "Subscribers terminated in each month over those active at its start.",
            subscribers.monthly_churn,
        ),
        ReportKind(
            "arpu",
            "ARPU",
            "Revenue per subscriber active during each month.",
            revenue.arpu,
        ),
        ReportKind(
            "package-popularity",
            "Package popularity",
            "Live services per package, and activations in the period.",
            subscribers.package_popularity,
        ),
        ReportKind(
            "data-usage",
            "Data usage by subscriber",
            "Bytes downloaded and uploaded in the period (RADIUS accounting, UTC days).",
            usage.usage_by_subscriber,
        ),
    )
}
