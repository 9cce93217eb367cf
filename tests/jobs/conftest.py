"""Fixtures for the job system: a queue of its own per test, real workers run in-process."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import pytest
from arq.worker import Worker
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.queue import create_redis_pool
from kiunga.platform.jobs.worker import build_worker_settings
from redis import Redis as SyncRedis

POLL = 0.05


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=5)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def jobs_redis_url(redis_url, redis_databases) -> str:
    """A Redis database of this test process's own for the job tests, emptied at the start."""
    url = urlunsplit(urlsplit(redis_url)._replace(path=f"/{redis_databases[1]}"))
    client = SyncRedis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def queue_name() -> str:
    return f"kiunga:test:{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis(jobs_redis_url, queue_name):
    pool = await create_redis_pool(jobs_redis_url, queue_name)
    yield pool
    await pool.aclose()


@pytest.fixture
def worker_settings(database_url, jobs_redis_url, queue_name):
    """Settings for a worker on this test's queue; `registry` is required so tests never
    pick up each other's handlers."""

    def make(registry, **options):
        options.setdefault("relay", False)
        options.setdefault("poll_delay", POLL)
        return build_worker_settings(
            database_url, jobs_redis_url, queue_name=queue_name, registry=registry, **options
        )

    return make


async def run_burst(settings: dict, limit: float = 30.0) -> Worker:
    """Run a worker until its queue is empty (deferred retries included)."""
    worker = Worker(**settings, burst=True, handle_signals=False)
    try:
        await asyncio.wait_for(worker.async_run(), limit)
    finally:
        await worker.close()
    return worker


@contextlib.asynccontextmanager
async def running_worker(settings: dict):
    """A worker (and its relay, if enabled) running in the background of the test."""
    worker = Worker(**settings, handle_signals=False)
    main = asyncio.create_task(worker.async_run())
    try:
        await eventually(lambda: "kiunga_database" in worker.ctx or main.done(), limit=15)
        if main.done():
            main.result()
        yield worker
    finally:
        await eventually(lambda: all(t.done() for t in worker.tasks.values()), limit=15)
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await main


async def eventually(condition: Callable[[], bool], limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(POLL)


@pytest.fixture
def jobs_harness():
    """The helpers above, for test modules (conftest modules are not importable)."""

    class Harness:
        burst = staticmethod(run_burst)
        running = staticmethod(running_worker)
        until = staticmethod(eventually)

    return Harness
