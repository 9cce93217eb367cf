"""A report's result: named columns and rows, ready for JSON, CSV or a console table."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kiunga.platform.csv_cells import SafeCsvWriter


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *values: Any) -> None:
        self.rows.append(dict(zip(self.columns, values, strict=True)))


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if row[c] is None else plain(row[c]) for c in table.columns])
    return buffer.getvalue()


def rounded_share(numerator: int, denominator: int) -> int | None:
    """numerator / denominator in whole minor units, halves rounded up; None for 0/0."""
    if denominator == 0:
        return None
    return (2 * numerator + denominator) // (2 * denominator)


def percentage(numerator: int, denominator: int) -> float | None:
    if denominator == 0:
        return None
    return round(100 * numerator / denominator, 2)
