"""One spreadsheet row checked and cleaned into what the subscribers table holds.

Problems are collected rather than raised, so that a report lists every bad cell of the
file (row number as the spreadsheet shows it, field, reason) in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kiunga.tenants.subscribers import validation as check
from kiunga.tenants.subscribers.models import SubscriberStatus

PHONE_SEPARATORS = re.compile(r"[/,;|]")
TEXT_FIELDS = ("region", "branch", "unit")


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    field: str
    reason: str


@dataclass(slots=True)
class CleanRow:
    row: int
    values: dict[str, object]  # subscriber columns; absent or empty cells are left out
    phones: list[str] = field(default_factory=list)
    account_number: str | None = None
    site_name: str | None = None
    status: SubscriberStatus | None = None


def clean_row(number: int, record: dict[str, str], mapping: dict[str, str]) -> CleanRow | Problem:
    """`record` is header → cell; `mapping` field → header. The first problem found wins
    (a person fixes one cell, re-runs, sees the next)."""

    def cell(name: str) -> str:
        header = mapping.get(name)
        return (record.get(header) or "").strip() if header else ""

    try:
        values: dict[str, object] = {"name": check.text("name", cell("name"), required=True)}
        for name in TEXT_FIELDS:
            if cell(name):
                values[name] = check.text(name, cell(name))
        for name in ("address", "notes"):
            if cell(name):
                values[name] = cell(name)
        if cell("email"):
            values["email"] = check.email(cell("email"))
        if cell("language"):
            values["language"] = check.language(cell("language")[:2])
        if cell("latitude") or cell("longitude"):
            values["latitude"], values["longitude"] = check.gps(
                cell("latitude") or None, cell("longitude") or None
            )
        raw_phones = [p for p in PHONE_SEPARATORS.split(cell("phones")) if p.strip()]
        phones = check.phones(raw_phones)
        account = check.account_number(cell("account_number")) if cell("account_number") else None
        status = None
        if cell("status"):
            status = check.status(cell("status").replace(" ", "_"))
    except check.SubscriberError as exc:
        return Problem(number, "phones" if exc.field.startswith("phones") else exc.field,
                       exc.message)  # fmt: skip
    return CleanRow(
        row=number,
        values=values,
        phones=phones,
        account_number=account,
        site_name=cell("site") or None,
        status=status,
    )
