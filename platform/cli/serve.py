"""`kiunga serve`: the web process (console, tenant API, platform API) under uvicorn."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.settings import get_settings

APP_FACTORY = "kiunga.platform.web.app:create_served_app"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on [default: KIUNGA_HOST]")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port [default: KIUNGA_PORT]", min=1)
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = 1,
    reload: Annotated[
        bool, typer.Option("--reload", help="Restart when the code changes (development).")
    ] = False,
    header_timeout: Annotated[
        int | None,
        typer.Option(
            "--header-timeout",
            min=1,
            help="Seconds a client has to send a request's headers [default: "
            "KIUNGA_HEADER_TIMEOUT or 10].",
        ),
    ] = None,
    body_timeout: Annotated[
        int | None,
        typer.Option(
            "--body-timeout",
            min=1,
            help="Seconds a client has to send a request's body after its headers [default: "
            "KIUNGA_BODY_TIMEOUT or 120].",
        ),
    ] = None,
    fd: Annotated[
        int | None,
        typer.Option(
            "--fd",
            min=0,
            help="Serve on this inherited, already listening socket instead of binding "
            "host and port (how `kiunga up` hands over the port it holds).",
        ),
    ] = None,
) -> None:
    """Serve the web app: consoles, the tenant and platform APIs, health and metrics."""
    import uvicorn
    from kiunga.platform.web.log_config import configure_logging
    from kiunga.platform.web.slow_clients import DeadlineH11Protocol

    # Through the environment, so that worker processes read the same deadlines.
    if header_timeout is not None:
        os.environ["KIUNGA_HEADER_TIMEOUT"] = str(header_timeout)
    if body_timeout is not None:
        os.environ["KIUNGA_BODY_TIMEOUT"] = str(body_timeout)
    settings = load_settings_or_exit()
    services_or_exit(settings)
    # The URLs are now in the environment: read the settings again so that the app (here
    # or in worker processes) attaches to the same servers instead of starting its own.
    get_settings.cache_clear()
    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_json)
    # Our own request log line carries the request id and tenant; uvicorn's would not.
    options = {
        "access_log": False,
        "log_config": None,
        "proxy_headers": True,
        "http": DeadlineH11Protocol,
    }
    if fd is not None:
        if workers != 1 or reload:
            console.print("[red]error:[/red] --fd serves one process: no --workers or --reload")
            raise typer.Exit(2)
        listening = socket.socket(fileno=fd)
        host, port = listening.getsockname()[:2]
        _announce(host, port, settings.base_domain)
        config = uvicorn.Config(APP_FACTORY, factory=True, server_header=False, **options)
        uvicorn.Server(config).run(sockets=[listening])
        return
    host = host or settings.host
    port = port or settings.port
    _announce(host, port, settings.base_domain)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        server_header=False,
        **options,
    )


def _announce(host: str, port: int, base_domain: str) -> None:
    console.print(
        f"serving on http://{host}:{port} — tenants at <slug>.{base_domain}, "
        f"the platform at {base_domain}"
    )
