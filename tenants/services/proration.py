"""Proration when a service changes package part-way through a period, in integer cents.

Both amounts are the package price times the unused share of a period, rounded half up to
the nearest minor unit (so neither side gains more than half a cent):

    credit = round(old_price × remaining / old_period)
    charge = round(new_price × remaining / new_period)

where `remaining` is the time from the change to the end of the current period, and
`new_period` is the length of one period of the new package starting where the current one
started (a weekly plan swapped for a monthly one pays its monthly price pro rata).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def share(price: int, part_seconds: int, whole_seconds: int) -> int:
    """price × part / whole, rounded half up, all in integers (no float ever sees money)."""
    if whole_seconds <= 0:
        raise ValueError("a period must have a length")
    part_seconds = max(0, min(part_seconds, whole_seconds))
    return (2 * price * part_seconds + whole_seconds) // (2 * whole_seconds)


def _seconds(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds())


@dataclass(frozen=True, slots=True)
class Proration:
    credit: int  # the unused part of the old package, credited back
    charge: int  # the new package for the rest of the period


def prorate(
    *,
    old_price: int,
    new_price: int,
    period_start: datetime,
    period_end: datetime,
    new_period_end: datetime,
    at: datetime,
) -> Proration:
    remaining = _seconds(at, period_end)
    return Proration(
        credit=share(old_price, remaining, _seconds(period_start, period_end)),
        charge=share(new_price, remaining, _seconds(period_start, new_period_end)),
    )
