"""`kiunga worker`: run jobs, periodic fan-outs and the outbox relay until stopped."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from kiunga.platform.cli.common import console, load_settings_or_exit, services_or_exit
from kiunga.platform.heap import freeze_startup_objects
from kiunga.platform.jobs.queue import DEFAULT_QUEUE
from kiunga.platform.jobs.worker import build_worker_settings, serve_worker


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)


def worker_command(
    queue: Annotated[
        str, typer.Option("--queue", "-q", help="Redis queue to take jobs from.")
    ] = DEFAULT_QUEUE,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Jobs run at once.")
    ] = 10,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queue is empty.")] = False,
    relay: Annotated[
        bool,
        typer.Option(
            "--relay/--no-relay",
            help="Also move outbox events to the queue (several relays may run at once).",
        ),
    ] = True,
) -> None:
    """Run the job worker: tasks, outbox event handlers and periodic jobs for every tenant."""
    settings = load_settings_or_exit()
    urls = services_or_exit(settings)
    _configure_logging(settings.log_level, settings.log_json)
    worker_settings = build_worker_settings(
        urls.database_url,
        urls.redis_url,
        queue_name=queue,
        relay=relay,
        max_jobs=concurrency,
        db_pool_size=min(settings.db_pool_size, concurrency + 2),
    )
    freeze_startup_objects()
    console.print(f"worker on queue [bold]{queue}[/bold], {concurrency} jobs at a time")
    asyncio.run(serve_worker(worker_settings, burst=burst))


def _configure_logging(level: str, json_lines: bool) -> None:
    try:
        from kiunga.platform.web.log_config import configure_logging
    except ImportError:
        # The log setup lives with the web shell; plain lines will do without it.
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        configure_logging(level, json_lines)
