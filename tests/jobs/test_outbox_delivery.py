"""Events reach their handlers once, after commit, in their own tenant, even across a Redis
outage; failing handlers are retried with backoff."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import redis.exceptions
from arq.connections import ArqRedis
from arq.constants import result_key_prefix
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.jobs import JobRegistry, emit
from kiunga.platform.jobs.outbox import OutboxDelivery, OutboxEvent
from kiunga.platform.jobs.relay import OutboxRelay
from kiunga.platform.jobs.serialization import deserialize, serialize
from kiunga.platform.jobs.tenants import tenant_by_slug
from kiunga.platform.jobs.worker import RELAY_KEY
from kiunga.platform.models import TenantStatus
from kiunga.platform.tenant_admin import set_tenant_status
from kiunga.tenants.sites.models import Site
from sqlalchemy import select

jobs = JobRegistry()
seen: list[dict] = []
flaky_runs: list[float] = []


@jobs.on_event("test_delivery.site_opened", name="test_delivery.record_site")
async def record_site(ctx, event):
    site = await ctx.session.get(Site, event.payload["site_id"])
    seen.append(
        {
            "tenant": ctx.tenant.slug,
            "schema": ctx.session.info[TENANT_SCHEMA_KEY],
            "event_id": event.id,
            "site_id": event.payload["site_id"],
            "site_name": site.name if site else None,
        }
    )


@jobs.on_event("test_delivery.flaky", name="test_delivery.flaky_handler", backoff=0.3, max_tries=5)
async def flaky_handler(ctx, event):
    flaky_runs.append(time.monotonic())
    # A row written by a failing try must vanish with it; only the last try's row stays.
    ctx.session.add(Site(name=f"flaky-{ctx.job_try}"))
    if len(flaky_runs) < 3:
        raise RuntimeError(f"gateway timeout #{len(flaky_runs)}")


@jobs.on_event("test_delivery.doomed", name="test_delivery.always_fails", backoff=0.05, max_tries=2)
async def always_fails(ctx, event):
    raise ValueError("router refused the command")


@jobs.on_event("test_delivery.doomed", name="test_delivery.fine")
async def fine(ctx, event):
    seen.append({"tenant": ctx.tenant.slug, "event_id": event.id, "handler": "fine"})


@pytest.fixture(autouse=True)
def clear_records():
    seen.clear()
    flaky_runs.clear()


async def open_site(database, tenant, name: str, *, topic="test_delivery.site_opened") -> int:
    async with database.tenant_session(tenant.schema) as session, session.begin():
        site = Site(name=name)
        session.add(site)
        await session.flush()
        event = await emit(session, topic, {"site_id": site.id})
        return event.id


async def event_row(database, tenant, event_id) -> OutboxEvent:
    async with database.tenant_session(tenant.schema) as session:
        return await session.get(OutboxEvent, event_id)


async def deliveries(database, tenant, event_id) -> dict[str, OutboxDelivery]:
    async with database.tenant_session(tenant.schema) as session:
        rows = await session.scalars(
            select(OutboxDelivery).where(OutboxDelivery.event_id == event_id)
        )
        return {row.handler: row for row in rows}


async def tenant_ref(database, created):
    return await tenant_by_slug(database, created.slug)


async def test_committed_event_reaches_its_handler_once_and_rolled_back_never(
    database, make_tenant, worker_settings, jobs_harness
):
    tenant = make_tenant()
    # No timed sweep during the test: delivery must come from LISTEN/NOTIFY.
    settings = worker_settings(jobs, relay=True, sweep_interval=3600, redispatch_after=0)
    async with jobs_harness.running(settings) as worker:
        with pytest.raises(RuntimeError, match="changed my mind"):
            async with database.tenant_session(tenant.schema) as session, session.begin():
                session.add(Site(name="Ghost"))
                await session.flush()
                await emit(session, "test_delivery.site_opened", {"site_id": 999})
                raise RuntimeError("changed my mind")
        event_id = await open_site(database, tenant, "Kasarani")
        await jobs_harness.until(lambda: len(seen) == 1)

        # Sweeps that treat every dispatched event as overdue do not run it again.
        relay = worker.ctx[RELAY_KEY]
        await relay.sweep()
        await relay.sweep()
        await asyncio.sleep(0.5)

    assert seen == [
        {
            "tenant": tenant.slug,
            "schema": tenant.schema,
            "event_id": event_id,
            # The rolled-back transaction used up id 1 of the sequence.
            "site_id": 2,
            "site_name": "Kasarani",
        }
    ]
    row = await event_row(database, tenant, event_id)
    assert row.completed_at is not None and row.failed_at is None
    async with database.tenant_session(tenant.schema) as session:
        topics = (await session.scalars(select(OutboxEvent.topic))).all()
    assert topics == ["test_delivery.site_opened"], "the rolled-back event left no row"


async def test_event_is_handled_in_its_own_tenant_only(
    database, make_tenant, worker_settings, redis, jobs_harness
):
    first, second = make_tenant(), make_tenant()
    first_event = await open_site(database, first, "Kasarani")
    second_event = await open_site(database, second, "Rongai")
    relay = OutboxRelay(database, redis, jobs)
    for created in (first, second):
        assert await relay.drain_tenant(await tenant_ref(database, created)) == 1

    await jobs_harness.burst(worker_settings(jobs))

    by_tenant = {record["tenant"]: record for record in seen}
    assert len(seen) == 2
    # Both sites have id 1; each handler saw its own tenant's row through its own schema.
    assert by_tenant[first.slug]["site_id"] == by_tenant[second.slug]["site_id"] == 1
    assert by_tenant[first.slug] | {"schema": first.schema} == by_tenant[first.slug]
    assert by_tenant[first.slug]["site_name"] == "Kasarani"
    assert by_tenant[first.slug]["event_id"] == first_event
    assert by_tenant[second.slug]["schema"] == second.schema
    assert by_tenant[second.slug]["site_name"] == "Rongai"
    assert by_tenant[second.slug]["event_id"] == second_event


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_redis_down_keeps_events_pending_until_it_is_back(
    database, make_tenant, worker_settings, queue_name, jobs_harness
):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Kitengela")
    dead_redis = ArqRedis(
        host="127.0.0.1",
        port=closed_port(),
        socket_connect_timeout=0.5,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_name,
    )
    relay = OutboxRelay(database, dead_redis, jobs)
    with pytest.raises(redis.exceptions.ConnectionError):
        await relay.drain_tenant(await tenant_ref(database, tenant))
    # The sweep logs and carries on; nothing is marked dispatched.
    assert await relay.sweep() == 0
    await dead_redis.aclose()
    row = await event_row(database, tenant, event_id)
    assert row.dispatched_at is None and row.attempts == 0 and row.completed_at is None

    # Redis is back: a worker's relay finds the event in its first sweep and delivers it.
    settings = worker_settings(jobs, relay=True)
    async with jobs_harness.running(settings):
        await jobs_harness.until(lambda: len(seen) == 1)
    assert [record["event_id"] for record in seen] == [event_id]
    row = await event_row(database, tenant, event_id)
    assert row.attempts == 1 and row.completed_at is not None


async def test_failing_handler_is_retried_with_backoff_until_it_succeeds(
    database, make_tenant, worker_settings, redis, jobs_harness
):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Juja", topic="test_delivery.flaky")
    await OutboxRelay(database, redis, jobs).drain_tenant(await tenant_ref(database, tenant))

    worker = await jobs_harness.burst(worker_settings(jobs))

    assert len(flaky_runs) == 3
    assert worker.jobs_retried == 2 and worker.jobs_failed == 0
    first_wait, second_wait = (b - a for a, b in zip(flaky_runs, flaky_runs[1:], strict=False))
    assert first_wait >= 0.3 and second_wait >= 0.6, "backoff doubles"
    delivery = (await deliveries(database, tenant, event_id))["test_delivery.flaky_handler"]
    assert delivery.attempts == 3 and delivery.completed_at is not None
    assert delivery.last_error is None
    row = await event_row(database, tenant, event_id)
    assert row.completed_at is not None
    async with database.tenant_session(tenant.schema) as session:
        names = (await session.scalars(select(Site.name).order_by(Site.id))).all()
    assert names == ["Juja", "flaky-3"]


async def test_handler_that_never_succeeds_is_recorded_as_failed(
    database, make_tenant, worker_settings, redis, jobs_harness
):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Ruiru", topic="test_delivery.doomed")
    relay = OutboxRelay(database, redis, jobs, redispatch_after=0)
    await relay.drain_tenant(await tenant_ref(database, tenant))

    worker = await jobs_harness.burst(worker_settings(jobs))

    assert worker.jobs_failed == 1
    assert [record["handler"] for record in seen] == ["fine"], "the other handler still ran"
    by_handler = await deliveries(database, tenant, event_id)
    failed = by_handler["test_delivery.always_fails"]
    assert failed.failed_at is not None and failed.attempts == 2
    assert "router refused the command" in failed.last_error
    assert by_handler["test_delivery.fine"].completed_at is not None
    row = await event_row(database, tenant, event_id)
    assert row.failed_at is not None and row.completed_at is None
    assert "router refused" in row.last_error
    # A failed event is left for an operator; the relay does not send it again.
    assert await relay.drain_tenant(await tenant_ref(database, tenant)) == 0


async def test_event_without_handlers_completes_at_once(database, make_tenant, redis):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Thika", topic="test_delivery.nobody_cares")
    assert (
        await OutboxRelay(database, redis, jobs).drain_tenant(await tenant_ref(database, tenant))
        == 0
    )
    row = await event_row(database, tenant, event_id)
    assert row.completed_at is not None
    assert await redis.zcard(redis.default_queue_name) == 0


async def test_redispatch_queues_only_unfinished_handlers_under_the_same_ids(
    database, make_tenant, worker_settings, redis, jobs_harness
):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Limuru")
    relay = OutboxRelay(database, redis, jobs, redispatch_after=0)
    ref = await tenant_ref(database, tenant)
    assert await relay.drain_tenant(ref) == 1
    # Dispatched but not yet run: a re-send finds the job already queued under its id.
    assert await relay.drain_tenant(ref) == 1
    assert await redis.zrange(redis.default_queue_name, 0, -1) == [
        f"{tenant.slug}:{event_id}:test_delivery.record_site".encode()
    ]
    await jobs_harness.burst(worker_settings(jobs))
    assert len(seen) == 1
    assert (await event_row(database, tenant, event_id)).attempts == 2

    # The same job arriving again (a re-send, a stale copy) finds the delivery row done.
    job_id = f"{tenant.slug}:{event_id}:test_delivery.record_site"
    assert not await redis.exists(result_key_prefix + job_id), "handlers keep no result"
    job = await redis.enqueue_job(
        "handler:test_delivery.record_site", tenant.slug, event_id, _job_id=job_id
    )
    assert job is not None
    worker = await jobs_harness.burst(worker_settings(jobs))
    assert worker.jobs_complete == 1
    assert len(seen) == 1


async def test_events_of_a_disabled_tenant_wait_until_it_is_enabled_again(
    engine, database, make_tenant, worker_settings, redis, jobs_harness
):
    tenant = make_tenant()
    event_id = await open_site(database, tenant, "Ngong")
    relay = OutboxRelay(database, redis, jobs, redispatch_after=0)
    assert await relay.drain_tenant(await tenant_ref(database, tenant)) == 1
    # Disabled between dispatch and run: the job is dropped, the event stays open.
    set_tenant_status(engine, tenant.slug, TenantStatus.DISABLED)
    worker = await jobs_harness.burst(worker_settings(jobs))
    assert seen == [] and worker.jobs_retried == 0 and worker.jobs_failed == 0
    assert await relay.drain_schema(tenant.schema) == 0, "a disabled tenant is not drained"
    await relay.sweep()
    assert (await event_row(database, tenant, event_id)).attempts == 1

    set_tenant_status(engine, tenant.slug, TenantStatus.ACTIVE)
    await relay.sweep()
    await jobs_harness.burst(worker_settings(jobs))
    assert [record["event_id"] for record in seen] == [event_id]
    row = await event_row(database, tenant, event_id)
    assert row.attempts == 2 and row.completed_at is not None
