"""Assembling an arq worker from the areas' jobs: functions, cron fan-outs, the outbox relay.

`build_worker_settings(...)` returns the keyword arguments of `arq.worker.Worker`, so the
same worker runs as `kiunga worker`, inside `kiunga up`, or in a test:

    settings = build_worker_settings(database_url, redis_url, queue_name="test:abc")
    worker = Worker(**settings, burst=True, handle_signals=False)
    await worker.async_run()
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from arq.worker import Worker, func
from kiunga.platform.areas import Area, assemble
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.execution import DATABASE_KEY, arq_functions
from kiunga.platform.jobs.fanout import cron_jobs
from kiunga.platform.jobs.queue import DEFAULT_QUEUE, redis_settings
from kiunga.platform.jobs.registry import JobRegistry
from kiunga.platform.jobs.relay import OutboxRelay
from kiunga.platform.jobs.serialization import deserialize, serialize
from redis.exceptions import RedisError

log = logging.getLogger("kiunga.jobs")

RELAY_KEY = "kiunga_relay"
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def ping(ctx: dict[str, Any]) -> str:
    """Always registered: arq needs at least one function, and it answers health probes."""
    return "pong"


def build_worker_settings(
    database_url: str,
    redis_url: str,
    *,
    queue_name: str = DEFAULT_QUEUE,
    registry: JobRegistry | None = None,
    areas: Iterable[Area] | None = None,
    relay: bool = True,
    sweep_interval: float = 30.0,
    redispatch_after: float = 300.0,
    db_pool_size: int = 5,
    **worker_options: Any,
) -> dict[str, Any]:
    """Keyword arguments for `arq.worker.Worker`. With no `registry`, the jobs are those of
    `areas` (the listed ones when None), whose hooks and scopes become the process's.
    `relay=False` runs jobs only (a second worker process may leave relaying to the first;
    two relays are also safe)."""
    if registry is None:
        assembly = assemble(areas)
        assembly.install()
        registry = assembly.job_registry()

    async def on_startup(ctx: dict[str, Any]) -> None:
        database = Database(database_url, pool_size=db_pool_size)
        ctx[DATABASE_KEY] = database
        if relay:
            outbox_relay = OutboxRelay(
                database,
                ctx["redis"],
                registry,
                sweep_interval=sweep_interval,
                redispatch_after=redispatch_after,
            )
            ctx[RELAY_KEY] = outbox_relay
            await outbox_relay.start()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        outbox_relay: OutboxRelay | None = ctx.pop(RELAY_KEY, None)
        if outbox_relay is not None:
            await outbox_relay.stop()
        database: Database | None = ctx.pop(DATABASE_KEY, None)
        if database is not None:
            await database.dispose()

    settings: dict[str, Any] = {
        "functions": [func(ping, name="kiunga.ping"), *arq_functions(registry)],
        "cron_jobs": cron_jobs(registry),
        "redis_settings": redis_settings(redis_url),
        "queue_name": queue_name,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        # Cron fields of periodic jobs are read in UTC, whatever the host's zone.
        "timezone": UTC,
    }
    settings.update(worker_options)
    return settings


def create_worker(settings: dict[str, Any], **overrides: Any) -> Worker:
    return Worker(**{**settings, **overrides})


async def serve_worker(
    settings: dict[str, Any], *, handle_signals: bool = True, **overrides: Any
) -> None:
    """Run a worker until it is stopped (SIGINT/SIGTERM, cancellation, or a burst's end).

    arq's worker exits when it loses Redis; here it is rebuilt after a pause instead, so a
    Redis outage delays jobs rather than ending the process. Meanwhile events wait in the
    tenants' outboxes. Signals are handled here rather than by arq's worker, whose handlers
    would point at a worker already gone while Redis is down.
    """
    loop = asyncio.get_running_loop()
    if handle_signals:
        this_task = asyncio.current_task()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, this_task.cancel)
    delay = RESTART_DELAY
    try:
        while True:
            worker = create_worker(settings, handle_signals=False, **overrides)
            started = loop.time()
            try:
                await worker.async_run()
                return
            except (RedisError, OSError) as exc:
                if loop.time() - started > RESTART_DELAY_MAX:
                    delay = RESTART_DELAY
                log.warning("worker lost Redis (%s); restarting in %.0fs", exc, delay)
            finally:
                await _close_quietly(worker, settings)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_MAX)
    except asyncio.CancelledError:
        log.info("worker stopped")
    finally:
        if handle_signals:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)


async def _close_quietly(worker: Worker, settings: dict[str, Any]) -> None:
    try:
        await worker.close()
    except (Exception, asyncio.CancelledError) as exc:
        log.debug("worker did not close cleanly: %s", exc)
    # arq skips on_shutdown when its pool is broken; our relay and database must still go.
    await settings["on_shutdown"](worker.ctx)
