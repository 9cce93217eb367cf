"""`kiunga tenants create|list|disable|enable|add-domain`.

Exit codes: 0 done, 2 bad input (invalid or taken slug, unknown tenant, bad host).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.models import TenantStatus
from kiunga.platform.tenant_admin import (
    TenantError,
    TenantNotFound,
    add_tenant_domain,
    create_tenant,
    set_tenant_status,
    tenant_overview,
)
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

# Results go to stdout (to be piped or parsed); messages and errors to stderr.
out = Console(highlight=False)

tenants_app = typer.Typer(
    help="Create, list, disable and enable tenants (ISPs).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")


@contextmanager
def _engine_or_exit() -> Iterator[tuple[Engine, str]]:
    """The database engine and the base domain; bad input becomes exit code 2."""
    settings = load_settings_or_exit()
    urls = services_or_exit(settings)
    engine = sync_engine(urls.database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as connection:
            if connection.execute(text("SELECT to_regclass('platform.tenants')")).scalar() is None:
                console.print("[red]error:[/red] the database is not set up; run `kiunga migrate`")
                raise typer.Exit(1)
        yield engine, settings.base_domain
    except TenantError as exc:
        console.print(f"[red]error:[/red] {exc.field}: {exc.message}")
        raise typer.Exit(2) from exc
    except TenantNotFound as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


@tenants_app.command("create")
def create_command(
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits and hyphens, 3-31.")],
    name: Annotated[str, typer.Option("--name", help="The ISP's name, as its staff see it.")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="The owner's sign-in.")],
    owner_password: Annotated[
        str | None,
        typer.Option(
            "--owner-password",
            help="The owner's password; without it one is generated and shown once.",
        ),
    ] = None,
) -> None:
    """Create a tenant: its rows, its owner account and its schema, at head."""
    with _engine_or_exit() as (engine, base_domain):
        created = create_tenant(
            engine,
            slug=slug,
            name=name,
            owner_email=owner_email,
            base_domain=base_domain,
            owner_password=owner_password,
        )
    out.print(f"Created tenant {created.slug} ({created.name}) in schema {created.schema}")
    out.print(f"Host:  {created.host}")
    out.print(f"Owner: {created.owner_email}")
    if created.owner_password is not None:
        out.print(f"One-time password: {created.owner_password}  (shown once; change it)")


@tenants_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
) -> None:
    """List tenants with their hosts and migration state."""
    with _engine_or_exit() as (engine, _):
        tenants = tenant_overview(engine)
    if as_json:
        rows = [
            {
                "slug": t.slug,
                "name": t.name,
                "status": t.status.value,
                "schema": t.schema,
                "hosts": list(t.hosts),
                "versions": sorted(t.versions),
                "at_head": t.at_head,
            }
            for t in tenants
        ]
        out.print_json(json.dumps(rows))
        return
    table = Table()
    for column in ("slug", "name", "status", "schema", "hosts", "version", "at head"):
        table.add_column(column, overflow="fold")
    for t in tenants:
        table.add_row(
            t.slug,
            t.name,
            t.status.value,
            t.schema,
            "\n".join(t.hosts),
            ", ".join(sorted(t.versions)) or "(none)",
            "yes" if t.at_head else "[yellow]no[/yellow]",
        )
    out.print(table)
    console.print(f"{len(tenants)} tenant{'' if len(tenants) == 1 else 's'}")


@tenants_app.command("disable")
def disable_command(slug: str) -> None:
    """Disable a tenant; its data stays, and `enable` brings it back."""
    _set_status(slug, TenantStatus.DISABLED)


@tenants_app.command("enable")
def enable_command(slug: str) -> None:
    """Enable a disabled tenant again."""
    _set_status(slug, TenantStatus.ACTIVE)


def _set_status(slug: str, status: TenantStatus) -> None:
    with _engine_or_exit() as (engine, _):
        set_tenant_status(engine, slug, status)
    out.print(f"Tenant {slug} is {status.value}")


@tenants_app.command("add-domain")
def add_domain_command(slug: str, host: str) -> None:
    """Attach a custom domain (the ISP points its DNS at Kiunga)."""
    with _engine_or_exit() as (engine, base_domain):
        host = add_tenant_domain(engine, slug, host, base_domain=base_domain)
    out.print(f"Tenant {slug} now answers on {host}")
