"""`kiunga import subscribers FILE.csv --tenant SLUG [--dry-run] [--map COLUMN=FIELD ...]`.

Exit codes: 0 every row imported (or, on a dry run, importable); 3 some rows refused (the
others imported; the report lists row, field and reason); 2 bad input (unknown tenant,
unreadable file, a mapping that does not fit the file).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.db.engine import Database, sync_engine
from kiunga.platform.models import Tenant
from kiunga.tenants.imports.columns import FIELDS, MappingError, build_mapping, parse_overrides
from kiunga.tenants.imports.subscribers import (
    ImportReport,
    import_actor,
    import_subscribers,
    read_csv,
)
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

out = Console(highlight=False)
import_app = typer.Typer(help="Import data from spreadsheets (CSV).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")


def _tenant_schema(database_url: str, slug: str) -> str:
    engine = sync_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            query = select(Tenant.schema_name).where(Tenant.slug == slug)
            schema = connection.execute(query).scalar()
    finally:
        engine.dispose()
    if schema is None:
        console.print(f"[red]error:[/red] no tenant {slug!r}")
        raise typer.Exit(2)
    return schema


async def _run(database_url, schema, records, mapping, dry_run, source) -> ImportReport:
    database = Database(database_url, pool_size=1)
    columns = [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        async with database.tenant_session(schema) as session:
            with Progress("[progress.description]{task.description}", *columns,
                          console=console) as progress:  # fmt: skip
                task = progress.add_task("checking" if dry_run else "importing", total=len(records))
                report = await import_subscribers(
                    session,
                    records,
                    mapping,
                    dry_run=dry_run,
                    actor=import_actor(source),
                    progress=lambda done: progress.advance(task, done),
                )
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    finally:
        await database.dispose()
    return report


def _print_report(report: ImportReport, mapping: dict[str, str]) -> None:
    console.print(
        "Columns: " + ", ".join(f"{header} → {field}" for field, header in mapping.items())
    )
    if report.problems:
        table = Table("row", "field", "reason", title="Rows not imported")
        for problem in report.problems:
            table.add_row(str(problem.row), problem.field, problem.reason)
        out.print(table)
    verb = "would create" if report.dry_run else "created"
    again = "would update" if report.dry_run else "updated"
    out.print(
        f"{report.rows} rows: {verb} {report.created}, {again} {report.updated}, "
        f"refused {len(report.problems)} in {report.seconds:.2f} s "
        f"({report.rows_per_second:,.0f} rows/s)"
        + ("; dry run, nothing written" if report.dry_run else "")
    )


@import_app.command("subscribers")
def subscribers_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV file with a header row.", exists=True, dir_okay=False, readable=True
        ),
    ],  # fmt: skip
    tenant: Annotated[str, typer.Option("--tenant", help="The ISP's slug.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row and report; write nothing.")
    ] = False,
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help=f"COLUMN=FIELD, repeatable, when a header is not recognised "
            f"(COLUMN= ignores a column). Fields: {', '.join(FIELDS)}.",
        ),
    ] = None,
) -> None:
    """Import subscribers; idempotent by account number (a second run updates, never
    duplicates)."""
    settings = load_settings_or_exit()
    urls = services_or_exit(settings)
    try:
        headers, records = read_csv(file.read_bytes())
        mapping = build_mapping(headers, parse_overrides(maps or [], headers))
    except (MappingError, UnicodeError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    schema = _tenant_schema(urls.database_url, tenant)
    report = asyncio.run(_run(urls.database_url, schema, records, mapping, dry_run, file.name))
    _print_report(report, mapping)
    if report.problems:
        raise typer.Exit(3)
