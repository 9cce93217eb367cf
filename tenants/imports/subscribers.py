"""Import subscribers from a spreadsheet, idempotently by account number.

A row whose account number exists updates that subscriber (cells left empty keep what is
there); a new account number creates one. A row without an account number matches the
subscriber whose main phone it gives, else gets a generated account number. So importing
the same file twice changes nothing the second time.

Bad rows are reported (row, field, reason) and skipped; the good ones are written in
chunks with multi-row statements, so 10,000 rows take seconds. A dry run checks
everything, including against the database, and writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import enum
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import anyio
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.db.naming import validate_schema
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.imports.columns import MappingError
from kiunga.tenants.imports.rows import CleanRow, Problem, clean_row
from kiunga.tenants.sites.models import Site
from kiunga.tenants.subscribers.accounts import existing_accounts, fresh_account_numbers
from kiunga.tenants.subscribers.models import (
    Language,
    Subscriber,
    SubscriberPhone,
    SubscriberStatus,
    SubscriberStatusChange,
)
from psycopg import sql
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

CHUNK = 1000
# Subscribers in an existing ISP's spreadsheet are, unless it says otherwise, customers.
DEFAULT_STATUS = SubscriberStatus.ACTIVE
UPDATABLE = ("name", "email", "region", "branch", "site_id", "address", "unit", "notes",
             "language", "latitude", "longitude")  # fmt: skip
INSERT_DEFAULTS = {"email": None, "region": "", "branch": "", "site_id": None, "address": "",
                   "unit": "", "notes": "", "language": Language.ENGLISH, "latitude": None,
                   "longitude": None}  # fmt: skip


def import_actor(source: str) -> Actor:
    return Actor("import", f"import:{source}"[:60])


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


NOT_CSV_TEXT = "The file is not a CSV text file (save it from the spreadsheet as CSV UTF-8)"


def _text_of(data: bytes) -> str:
    # UTF-16 is what spreadsheets write as "Unicode text"; everything else must be UTF-8.
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    try:
        return data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(NOT_CSV_TEXT) from exc


def read_csv(data: str | bytes) -> tuple[list[str], list[dict[str, str]]]:
    """Headers and rows of a CSV file (comma, semicolon or tab; UTF-8 with or without a
    BOM, or UTF-16). A file that is not CSV text raises MappingError saying why."""
    text = _text_of(data) if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise MappingError(NOT_CSV_TEXT)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    try:
        headers = [header.strip() for header in reader.fieldnames or []]
        reader.fieldnames = headers
        return headers, [dict(record) for record in reader]
    except csv.Error as exc:
        # A cell beyond the csv module's limit (128 KiB) is no subscriber's data; the line
        # being read when it stopped is not counted yet.
        raise MappingError(f"line {reader.line_num + 1}: {exc}") from exc


async def _site_ids(session: AsyncSession, rows: list[CleanRow]) -> dict[str, int]:
    names = {row.site_name.lower() for row in rows if row.site_name}
    if not names:
        return {}
    query = select(func.lower(Site.name), Site.id).where(func.lower(Site.name).in_(names))
    return dict((await session.execute(query)).all())


def _check_file(cleaned: list[CleanRow | Problem], report: ImportReport) -> list[CleanRow]:
    """Bad rows go to the report; an account number seen twice keeps the first row."""
    good: list[CleanRow] = []
    first_seen: dict[str, int] = {}
    for item in cleaned:
        if isinstance(item, Problem):
            report.problems.append(item)
        elif item.account_number and item.account_number in first_seen:
            reason = f"account number repeats row {first_seen[item.account_number]}"
            report.problems.append(Problem(item.row, "account_number", reason))
        else:
            if item.account_number:
                first_seen[item.account_number] = item.row
            good.append(item)
    return good


async def _assign_accounts(session: AsyncSession, rows: list[CleanRow], claimed: dict) -> None:
    """Rows without an account number: their main phone's subscriber, else a new number."""
    phones = [row.phones[0] for row in rows if not row.account_number and row.phones]
    if phones:
        query = (
            select(SubscriberPhone.phone, Subscriber.account_number)
            .join(Subscriber, Subscriber.id == SubscriberPhone.subscriber_id)
            .where(SubscriberPhone.phone.in_(phones), SubscriberPhone.is_primary)
        )
        for phone, account in (await session.execute(query)).all():
            claimed.setdefault(phone, account)
    needing = [row for row in rows if not row.account_number]
    fresh = iter(fresh_account_numbers(len(needing), claimed.values()))
    candidates = []
    for row in needing:
        phone = row.phones[0] if row.phones else None
        if phone and phone in claimed:
            row.account_number = claimed[phone]
        else:
            row.account_number = next(fresh)
            candidates.append(row)
            if phone:
                claimed[phone] = row.account_number
    clashes = await existing_accounts(session, [row.account_number for row in candidates])
    if clashes:  # a random number already in use: draw again (rare)
        replacements = iter(fresh_account_numbers(len(clashes), clashes | set(claimed.values())))
        for row in candidates:
            if row.account_number in clashes:
                row.account_number = next(replacements)


async def _existing(session: AsyncSession, accounts: Iterable[str]) -> dict[str, tuple]:
    query = select(Subscriber.account_number, Subscriber.id, Subscriber.status).where(
        Subscriber.account_number.in_(list(accounts))
    )
    return {account: (id_, status) for account, id_, status in (await session.execute(query))}


# Core statements on the table: executemany with one parameter set per row.
TABLE = Subscriber.__table__
_UPDATE = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("b_id"))
    .values(
        {name: func.coalesce(bindparam(f"b_{name}", type_=TABLE.c[name].type), TABLE.c[name])
         for name in UPDATABLE}
        | {"updated_at": func.now()}
    )
)  # fmt: skip
_SET_STATUS = (
    update(TABLE).where(TABLE.c.id == bindparam("b_id")).values(status=bindparam("b_status"))
)


NEW_COLUMNS = ("account_number", "name", "status") + tuple(INSERT_DEFAULTS)


async def _copy(session: AsyncSession, table: str, columns: tuple[str, ...], rows) -> None:
    """COPY rows into one of this tenant's tables, in the session's transaction: several
    times faster than a multi-row INSERT, whose long statement the driver must parse."""
    schema = validate_schema(session.info[TENANT_SCHEMA_KEY])
    raw = await (await session.connection()).get_raw_connection()
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    async with raw.driver_connection.cursor() as cursor, cursor.copy(query) as copy:
        for row in rows:
            await copy.write_row(row)


def _plain(value):
    return value.value if isinstance(value, enum.Enum) else value


async def _write_chunk(
    session: AsyncSession, rows: list[CleanRow], existing: dict[str, tuple], actor: Actor
) -> tuple[int, int]:
    connection = await session.connection()
    new = [row for row in rows if row.account_number not in existing]
    old = [row for row in rows if row.account_number in existing]
    ids: dict[str, int] = {account: found[0] for account, found in existing.items()}
    if new:
        values = (
            INSERT_DEFAULTS | row.values
            | {"account_number": row.account_number, "status": row.status or DEFAULT_STATUS}
            for row in new
        )  # fmt: skip
        await _copy(session, "subscribers", NEW_COLUMNS,
                    (tuple(_plain(v[name]) for name in NEW_COLUMNS) for v in values))  # fmt: skip
        accounts = [row.account_number for row in new]
        query = select(TABLE.c.account_number, TABLE.c.id).where(
            TABLE.c.account_number.in_(accounts)
        )
        ids.update(dict((await connection.execute(query)).all()))
    if old:
        params = [
            {f"b_{name}": row.values.get(name) for name in UPDATABLE}
            | {"b_id": ids[row.account_number]}
            for row in old
        ]
        await connection.execute(_UPDATE, params)
    changes = [
        {"subscriber_id": ids[row.account_number], "from_status": None,
         "to_status": row.status or DEFAULT_STATUS}
        for row in new
    ]  # fmt: skip
    moved = [row for row in old if row.status and row.status != existing[row.account_number][1]]
    if moved:
        await connection.execute(
            _SET_STATUS,
            [{"b_id": ids[row.account_number], "b_status": row.status} for row in moved],
        )
        changes += [
            {"subscriber_id": ids[row.account_number],
             "from_status": existing[row.account_number][1], "to_status": row.status}
            for row in moved
        ]  # fmt: skip
    if changes:
        columns = ("subscriber_id", "from_status", "to_status", "reason", "changed_by")
        await _copy(session, SubscriberStatusChange.__tablename__, columns, (
            (c["subscriber_id"], _plain(c["from_status"]), _plain(c["to_status"]), "imported",
             actor.label) for c in changes
        ))  # fmt: skip
    with_phones = [row for row in rows if row.phones]
    if with_phones:
        old_accounts = {row.account_number for row in old}
        replaced = [
            ids[row.account_number] for row in with_phones if row.account_number in old_accounts
        ]
        if replaced:
            phones_table = SubscriberPhone.__table__
            await connection.execute(
                delete(phones_table).where(phones_table.c.subscriber_id.in_(replaced))
            )
        phones = (
            (ids[row.account_number], phone, index == 0)
            for row in with_phones
            for index, phone in enumerate(row.phones)
        )
        await _copy(session, SubscriberPhone.__tablename__,
                    ("subscriber_id", "phone", "is_primary"), phones)  # fmt: skip
    return len(new), len(old)


def _clean_rows(records: list[dict[str, str]], mapping: dict[str, str]) -> list:
    return [clean_row(index + 2, record, mapping) for index, record in enumerate(records)]


async def import_subscribers(
    session: AsyncSession,
    records: list[dict[str, str]],
    mapping: dict[str, str],
    *,
    dry_run: bool = False,
    actor: Actor | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check and (unless `dry_run`) write `records` (header → cell, in file order; the
    header is spreadsheet row 1). The caller's transaction commits."""
    started = time.perf_counter()
    actor = actor or import_actor("file")
    report = ImportReport(rows=len(records), dry_run=dry_run)
    # Checking every row of a large file is seconds of Python: keep it off the event loop.
    cleaned = await anyio.to_thread.run_sync(_clean_rows, records, mapping)
    good = _check_file(cleaned, report)
    if progress and len(good) < len(records):
        progress(len(records) - len(good))
    sites = await _site_ids(session, good)
    claimed: dict[str, str] = {}
    for start in range(0, len(good), CHUNK):
        chunk = good[start : start + CHUNK]
        writable = []
        for row in chunk:
            if row.site_name and row.site_name.lower() not in sites:
                report.problems.append(Problem(row.row, "site", f"no site named {row.site_name!r}"))
                continue
            if row.site_name:
                row.values["site_id"] = sites[row.site_name.lower()]
            writable.append(row)
        await _assign_accounts(session, writable, claimed)
        existing = await _existing(session, (row.account_number for row in writable))
        final = SubscriberStatus.TERMINATED
        for row in list(writable):
            found = existing.get(row.account_number)
            if found and found[1] is final and row.status and row.status is not final:
                report.problems.append(Problem(row.row, "status", "terminated is final"))
                writable.remove(row)
        if dry_run:
            report.created += sum(row.account_number not in existing for row in writable)
            report.updated += sum(row.account_number in existing for row in writable)
        else:
            created, updated = await _write_chunk(session, writable, existing, actor)
            report.created += created
            report.updated += updated
        if progress:
            progress(len(chunk))
    report.problems.sort(key=lambda problem: problem.row)
    if not dry_run and (report.created or report.updated):
        await emit(session, "subscribers.imported",
                   {"created": report.created, "updated": report.updated})  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report
