"""A Redis outage in the middle of a worker's life delays an event's handler, never loses it.

The worker gets a Valkey server of its own, which the test stops and starts again on the
same port while the worker runs.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from arq.constants import health_check_key_suffix
from kiunga.platform.jobs import JobRegistry, emit
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.jobs.worker import build_worker_settings, serve_worker
from redis.asyncio import Redis

jobs = JobRegistry()
handled: list[int] = []


@jobs.on_event("test_outage.payment_received", name="test_outage.restore_service")
async def restore_service(ctx, event):
    handled.append(event.payload["payment_id"])


async def test_events_wait_out_a_redis_outage(
    database, database_url, make_tenant, valkey, jobs_harness
):
    tenant = make_tenant()
    settings = build_worker_settings(
        database_url,
        f"redis://127.0.0.1:{valkey.port}/0",
        queue_name="kiunga:test:outage",
        registry=jobs,
        poll_delay=0.05,
    )
    running = asyncio.create_task(serve_worker(settings, handle_signals=False))
    try:
        # Let the worker get going before its Redis goes away.
        probe = Redis(port=valkey.port)
        for _ in range(300):
            if await probe.exists("kiunga:test:outage" + health_check_key_suffix):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the worker did not start")
        await probe.aclose()
        valkey.stop()
        async with database.tenant_session(tenant.schema) as session, session.begin():
            event = await emit(session, "test_outage.payment_received", {"payment_id": 7})
        await asyncio.sleep(1.5)
        assert handled == []
        async with database.tenant_session(tenant.schema) as session:
            row = await session.get(OutboxEvent, event.id)
            assert row.dispatched_at is None, "nothing was handed to a dead Redis"

        valkey.start()
        for _ in range(600):
            async with database.tenant_session(tenant.schema) as session:
                if (await session.get(OutboxEvent, event.id)).completed_at is not None:
                    break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the event was not handled after Redis came back")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert handled == [7]
