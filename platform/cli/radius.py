"""`kiunga radius`: the RADIUS server for every ISP at once (authentication and accounting).

One process (or `--workers` processes: every worker reads the one authentication socket, so
a busy NAS is spread over them; accounting has a socket per worker with SO_REUSEPORT, so
one NAS's retransmissions reach the same worker) holds the NAS
directory and every ISP's subscribers in memory, kept fresh by NOTIFY and a periodic
reload, and writes accounting to each ISP's schema in batches. SIGTERM or Ctrl-C stops it
after the accounting already taken is written.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit


def register(app: typer.Typer) -> None:
    app.command("radius")(radius_command)


def radius_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (KIUNGA_RADIUS_HOST).")
    ] = None,
    auth_port: Annotated[
        int | None,
        typer.Option("--auth-port", min=0, help="Authentication port (KIUNGA_RADIUS_AUTH_PORT)."),
    ] = None,
    acct_port: Annotated[
        int | None,
        typer.Option("--acct-port", min=0, help="Accounting port (KIUNGA_RADIUS_ACCT_PORT)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Server processes sharing the ports.")
    ] = 1,
) -> None:
    """Serve RADIUS authentication and accounting for every ISP's radius-mode routers."""
    from kiunga.integrations.radius.runner import serve_radius
    from kiunga.tenants.network.directory import RadiusClientDirectory
    from kiunga.tenants.network.radius.accounting import AccountingWriter
    from kiunga.tenants.network.radius.authorizer import TenantAuthorizer

    settings = load_settings_or_exit()
    urls = services_or_exit(settings)
    _configure_logging(settings.log_level, settings.log_json)
    host = host or settings.radius_host
    auth_port = settings.radius_auth_port if auth_port is None else auth_port
    acct_port = settings.radius_acct_port if acct_port is None else acct_port

    def ready(auth: int, acct: int) -> None:
        console.print(
            f"RADIUS on [bold]{host}[/bold]: authentication {auth}, accounting {acct}, "
            f"{workers} worker(s)"
        )

    serve_radius(
        host,
        auth_port,
        acct_port,
        RadiusClientDirectory(urls.database_url),
        TenantAuthorizer(
            urls.database_url,
            reload_seconds=settings.radius_reload_seconds,
            interim_interval=settings.radius_interim_seconds,
        ),
        AccountingWriter(urls.database_url),
        workers=workers,
        on_ready=ready,
    )


def _configure_logging(level: str, json_lines: bool) -> None:
    try:
        from kiunga.platform.web.log_config import configure_logging
    except ImportError:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        configure_logging(level, json_lines)
