"""`kiunga migrate`: the platform schema, then every tenant behind, with a progress bar.

Exit codes: 0 all migrated, 1 some tenant failed (a table says which and why), 2 bad input.
"""

from __future__ import annotations

from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.migrate import MigrationReport, TenantFailure, UnknownTenant, migrate
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate_command)


def migrate_command(
    tenant: Annotated[
        str | None, typer.Option("--tenant", metavar="SLUG", help="Migrate this tenant only.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-j",
            min=1,
            help="Tenants migrated at once (default: KIUNGA_MIGRATE_CONCURRENCY, the CPU count).",
        ),
    ] = None,
    platform_only: Annotated[
        bool, typer.Option("--platform-only", help="Upgrade the shared schema only.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the full error of failed tenants.")
    ] = False,
) -> None:
    """Upgrade the platform schema, then every tenant not yet at head, several at a time.

    A run holds a PostgreSQL advisory lock: a second run waits for it, then skips what it did.
    """
    if tenant is not None and platform_only:
        console.print("[red]error:[/red] --tenant and --platform-only exclude each other")
        raise typer.Exit(2)
    settings = load_settings_or_exit()
    urls = services_or_exit(settings)
    progress = _progress_bar()
    task = None

    def on_plan(total: int, pending: int) -> None:
        nonlocal task
        console.print(
            f"{total} tenant{_s(total)}: {total - pending} already at head (skipped), "
            f"{pending} to migrate"
        )
        if pending:
            task = progress.add_task("Migrating tenants", total=pending)
            progress.start()

    def on_progress(slug: str, failure: TenantFailure | None) -> None:
        progress.advance(task)
        if failure is not None:
            progress.console.print(f"[red]failed:[/red] {slug}: {failure.error}")

    try:
        report = migrate(
            urls.database_url,
            tenant=tenant,
            concurrency=concurrency or settings.migrate_concurrency,
            include_tenants=not platform_only,
            on_wait=lambda: console.print(
                "Another `kiunga migrate` is running; waiting for it to finish…"
            ),
            on_plan=on_plan,
            on_progress=on_progress,
        )
    except UnknownTenant as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        progress.stop()
    _print_report(report, platform_only, verbose)
    if not report.ok:
        raise typer.Exit(1)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _print_report(report: MigrationReport, platform_only: bool, verbose: bool) -> None:
    console.print(f"Platform schema at head; tenant head {', '.join(report.heads) or '(none)'}")
    if platform_only:
        return
    summary = (
        f"{len(report.upgraded)} tenant{_s(len(report.upgraded))} migrated, "
        f"{report.skipped} already at head, {len(report.failed)} failed "
        f"in {report.seconds:.1f} s"
    )
    if report.workers:
        summary += f" ({report.workers} worker processes)"
    console.print(summary)
    if report.ok:
        return
    table = Table(title="Tenants that failed to migrate", title_justify="left")
    table.add_column("tenant", style="bold")
    table.add_column("error", overflow="fold")
    for failure in sorted(report.failed, key=lambda f: f.slug):
        table.add_row(failure.slug, failure.error)
    console.print(table)
    if verbose:
        for failure in report.failed:
            console.rule(failure.slug)
            console.print(failure.detail, markup=False, highlight=False)
    else:
        console.print("Each failed tenant was rolled back; --verbose shows the full errors.")


def _s(count: int) -> str:
    return "" if count == 1 else "s"
