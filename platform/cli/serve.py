"""`kiunga serve`: the web process (console, tenant API, platform API) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.settings import get_settings

APP_FACTORY = "kiunga.platform.web.app:create_app"


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
) -> None:
    """Serve the web app: consoles, the tenant and platform APIs, health and metrics."""
    import uvicorn
    from kiunga.platform.web.log_config import configure_logging

    settings = load_settings_or_exit()
    services_or_exit(settings)
    # The URLs are now in the environment: read the settings again so that the app (here
    # or in worker processes) attaches to the same servers instead of starting its own.
    get_settings.cache_clear()
    settings = load_settings_or_exit()
    configure_logging(settings.log_level, settings.log_json)
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"serving on http://{host}:{port} — tenants at <slug>.{settings.base_domain}, "
        f"the platform at {settings.base_domain}"
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        # Our own request log line carries the request id and tenant; uvicorn's would not.
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
