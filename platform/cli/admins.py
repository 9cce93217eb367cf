"""`kiunga admins`: platform administrators, who sign in on the bare base domain."""

from __future__ import annotations

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.db.engine import sync_engine
from rich.table import Table

admins = typer.Typer(help="Platform administrators.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(admins, name="admins")


@admins.command("create")
def create_command(
    email: str = typer.Argument(..., help="The administrator's email, used to sign in."),
    name: str = typer.Option("", help="Their name."),
    password: str | None = typer.Option(
        None, help="Their password (at least 10 characters); generated and shown if omitted."
    ),
) -> None:
    """Create a platform administrator, or make an existing account one."""
    from kiunga.platform.staff_admin import ensure_platform_admin
    from kiunga.platform.tenant_admin import TenantError

    settings = load_settings_or_exit()
    engine = sync_engine(services_or_exit(settings).database_url)
    try:
        admin = ensure_platform_admin(engine, email, password=password, name=name)
    except TenantError as exc:
        console.print(f"[red]error:[/red] {exc.field}: {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if not admin.created:
        typer.echo(f"{admin.email} is now a platform administrator (password unchanged)")
        return
    typer.echo(f"created platform administrator {admin.email}")
    if admin.password:
        typer.echo(f"password (shown once): {admin.password}")
    typer.echo(f"sign in at http://{settings.base_domain}:{settings.port}/login")


@admins.command("list")
def list_command() -> None:
    """List the platform administrators."""
    from kiunga.platform.staff_admin import list_platform_admins

    settings = load_settings_or_exit()
    engine = sync_engine(services_or_exit(settings).database_url)
    try:
        accounts = list_platform_admins(engine)
    finally:
        engine.dispose()
    table = Table("email", "name", "active", "created")
    for account in accounts:
        table.add_row(
            account.email,
            account.name,
            "yes" if account.is_active else "no",
            f"{account.created_at:%Y-%m-%d}",
        )
    console.print(table)
