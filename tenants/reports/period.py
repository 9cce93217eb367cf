"""The period a report covers, in the tenant's own timezone.

`from` and `to` are calendar dates in the ISP's timezone, both included: a Nairobi ISP's
"1 March" starts at 00:00 EAT, not at midnight UTC. Day and month buckets are likewise
taken on local time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.errors import DomainError
from kiunga.platform.models import Tenant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_DAYS = 30
# Month-by-month reports run a few small queries per month; keep a request bounded.
MAX_DAYS = 3 * 366


class PeriodError(DomainError, ValueError):
    """A period that cannot be read or is out of bounds; `field` names which end."""


@dataclass(frozen=True, slots=True)
class TenantFacts:
    timezone: str
    currency: str


@dataclass(frozen=True, slots=True)
class Period:
    first_day: date
    last_day: date
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.zone)

    @property
    def start(self) -> datetime:
        return self.start_of(self.first_day)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return self.start_of(self.last_day + timedelta(days=1))

    def months(self) -> list[tuple[date, datetime, datetime]]:
        """Each calendar month the period touches: (first day, start, end), whole months."""
        months = []
        month = self.first_day.replace(day=1)
        while month <= self.last_day:
            following = (month + timedelta(days=32)).replace(day=1)
            months.append((month, self.start_of(month), self.start_of(following)))
            month = following
        return months


async def tenant_facts(session: AsyncSession) -> TenantFacts:
    schema = session.info.get(TENANT_SCHEMA_KEY)
    row = (
        await session.execute(
            select(Tenant.timezone, Tenant.currency).where(Tenant.schema_name == schema)
        )
    ).one()
    return TenantFacts(timezone=row.timezone, currency=row.currency)


def _parse_day(field: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(field, f"{field} must be a date like 2026-03-31") from None


def make_period(timezone: str, first: str | None, last: str | None) -> Period:
    """The period from the `from` and `to` parameters; by default the last 30 days."""
    today = utcnow().astimezone(ZoneInfo(timezone)).date()
    last_day = _parse_day("to", last) or today
    first_day = _parse_day("from", first) or last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise PeriodError("from", "from must not be after to")
    if (last_day - first_day).days >= MAX_DAYS:
        raise PeriodError("from", f"a report covers at most {MAX_DAYS} days")
    return Period(first_day=first_day, last_day=last_day, timezone=timezone)
