"""What every command needs: settings, the service URLs, a console for output."""

from __future__ import annotations

import os

import typer
from kiunga.platform.devservices import ServiceUrls, ensure_services
from kiunga.platform.settings import Settings, SettingsError, get_settings
from rich.console import Console

console = Console(stderr=True)


def load_settings_or_exit() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def services_or_exit(settings: Settings) -> ServiceUrls:
    """Start or attach to the services; export the URLs for child processes, which then use
    the same servers without attaching to them themselves."""
    try:
        urls = ensure_services(settings)
    except Exception as exc:  # any failure to start is the same dead end for the user
        console.print(f"[red]could not start the embedded services:[/red] {exc}")
        console.print(f"Their logs are under {settings.data_dir}.")
        raise typer.Exit(1) from exc
    os.environ["KIUNGA_DATABASE_URL"] = urls.database_url
    os.environ["KIUNGA_REDIS_URL"] = urls.redis_url
    return urls
