"""`kiunga radius`: the RADIUS server for every ISP at once (authentication and accounting).

One process (or `--workers` processes: every worker reads the one authentication socket, so
a busy NAS is spread over them; accounting has a socket per worker with SO_REUSEPORT, so
one NAS's retransmissions reach the same worker) holds the NAS
directory and every ISP's subscribers in memory, kept fresh by NOTIFY and a periodic
reload. Accounting is appended to spool files under KIUNGA_DATA_DIR/radius-spool before the
NAS is answered, and a loader process writes it to each ISP's schema in batches. SIGTERM or
Ctrl-C stops it after the accounting already taken is written.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit

LOADER_STOP_SECONDS = 30
LOADER_NICENESS = 10
# True in the lean process that serves RADIUS (see _start_lean).
_LEAN = False


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
    if not _LEAN:
        _start_lean(host, auth_port, acct_port, workers)
    from kiunga.integrations.radius.runner import serve_radius
    from kiunga.integrations.radius.spool import SpoolSink
    from kiunga.tenants.network.directory import RadiusClientDirectory
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

    # Accounting is spooled by the workers and written to the ISPs' schemas by a loader
    # process of its own, so that answering never waits on the database.
    spool = settings.data_dir / "radius-spool"
    loader = multiprocessing.get_context("fork").Process(
        target=_load_spool, args=(spool, urls.database_url), name="kiunga-radius-loader"
    )
    loader.start()
    try:
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
            SpoolSink(spool),
            workers=workers,
            on_ready=ready,
        )
    finally:
        # The workers have handed over their last files: the loader writes them and ends.
        if loader.is_alive():
            os.kill(loader.pid, signal.SIGTERM)
        loader.join(LOADER_STOP_SECONDS)
        if loader.is_alive():
            loader.kill()


def _start_lean(host: str | None, auth_port: int | None, acct_port: int | None, workers: int):
    """Become a process that holds only what RADIUS needs, with the same PID (an exec).

    The assembled `kiunga` command has loaded every area's web and console code (about
    20 MiB a process more); the RADIUS server, its forked workers and the spool loader
    need none of it, and RADIUS runs no hooks nor checks staff scopes."""
    args = [sys.executable, "-m", __name__, "--workers", str(workers)]
    for option, value in (("--host", host), ("--auth-port", auth_port), ("--acct-port", acct_port)):
        if value is not None:
            args += [option, str(value)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


def _load_spool(spool: Path, database_url: str) -> None:
    from kiunga.integrations.radius.spool import SpoolLoader
    from kiunga.tenants.network.radius.accounting import AccountingWriter

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when to stop
    # Answering NASes comes first; loading may lag behind a burst and catch up after it.
    os.nice(LOADER_NICENESS)

    async def load() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        writer = AccountingWriter(database_url)
        await writer.start()
        try:
            await SpoolLoader(spool, writer.write).run(stop)
        finally:
            await writer.close()

    asyncio.run(load())


def _configure_logging(level: str, json_lines: bool) -> None:
    try:
        from kiunga.platform.web.log_config import configure_logging
    except ImportError:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        configure_logging(level, json_lines)


if __name__ == "__main__":
    # The lean RADIUS process: `python -m kiunga.tenants.network.cli [options]`.
    _LEAN = True
    typer.run(radius_command)
