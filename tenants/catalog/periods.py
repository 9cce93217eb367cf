"""How long a package lasts: the end of a period that starts at a given moment.

Months count by the calendar, so a month from 31 January ends on the last day of
February (28th or 29th) and a month from 15 March ends on 15 April, whatever the
number of days between them.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from kiunga.tenants.catalog.models import Package, ValidityUnit

_FIXED = {
    ValidityUnit.MINUTE: timedelta(minutes=1),
    ValidityUnit.HOUR: timedelta(hours=1),
    ValidityUnit.DAY: timedelta(days=1),
    ValidityUnit.WEEK: timedelta(weeks=1),
}


def add_months(moment: datetime, months: int) -> datetime:
    """`months` calendar months later, clamped to the last day of a shorter month."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_validity(start: datetime, count: int, unit: ValidityUnit | str) -> datetime:
    unit = ValidityUnit(unit)
    if unit is ValidityUnit.MONTH:
        return add_months(start, count)
    return start + _FIXED[unit] * count


def period_end(package: Package, start: datetime) -> datetime:
    """When one period of `package` that starts at `start` ends."""
    return add_validity(start, package.validity_count, package.validity_unit)
