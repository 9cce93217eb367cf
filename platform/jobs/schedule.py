"""When a periodic job fires: arq's cron fields, or a classic five-field cron line.

arq numbers weekdays Monday=0 … Sunday=6 (Python's `weekday()`), cron numbers them
Sunday=0 (or 7) … Saturday=6; lines are converted so that "0 3 * * 1" still means Monday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


@dataclass(frozen=True)
class Schedule:
    """Each field is None for "every", else the set of values it fires on."""

    minute: frozenset[int] | None = None
    hour: frozenset[int] | None = None
    day: frozenset[int] | None = None
    month: frozenset[int] | None = None
    weekday: frozenset[int] | None = None  # Monday=0, as arq counts

    def arq_fields(self) -> dict[str, set[int] | None]:
        return {
            name: (set(getattr(self, name)) if getattr(self, name) is not None else None)
            for name, _, _ in FIELDS
        }


def _values(value: int | Iterable[int] | None) -> frozenset[int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return frozenset({value})
    return frozenset(value)


def schedule_from(
    cron: str | None = None,
    *,
    minute: int | Iterable[int] | None = None,
    hour: int | Iterable[int] | None = None,
    day: int | Iterable[int] | None = None,
    month: int | Iterable[int] | None = None,
    weekday: int | Iterable[int] | None = None,
) -> Schedule:
    fields = (minute, hour, day, month, weekday)
    if cron is not None:
        if any(f is not None for f in fields):
            raise ValueError("give either a cron line or fields, not both")
        return parse_cron(cron)
    if minute is None:
        # arq would otherwise fire every minute of every matching hour; make that explicit.
        raise ValueError("a periodic job needs at least its minute(s)")
    return Schedule(*(_values(f) for f in fields))


def parse_cron(line: str) -> Schedule:
    """Parse "m h dom mon dow" with *, lists, ranges and steps (*/5, 1-10/2)."""
    parts = line.split()
    if len(parts) != 5:
        raise ValueError(f"a cron line has five fields, got {line!r}")
    values = [
        _parse_field(part, low, high, name)
        for part, (name, low, high) in zip(parts, FIELDS, strict=True)
    ]
    weekday = values[4]
    if weekday is not None:
        # cron: Sunday is 0 or 7; arq: Monday is 0, Sunday is 6.
        weekday = frozenset((d - 1) % 7 for d in weekday)
    return Schedule(values[0], values[1], values[2], values[3], weekday)


def _parse_field(text: str, low: int, high: int, name: str) -> frozenset[int] | None:
    if text == "*":
        return None
    result: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start_text, end_text = base.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = int(base)
            end = high if step_text else start
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(f"cron {name} field {text!r} is out of range {low}-{high}")
        result.update(range(start, end + 1, step))
    return frozenset(result)
