"""Tasks: deterministic ids, JSON on the wire, retries on any exception, tenant checks."""

from __future__ import annotations

import json
import uuid

import pytest
from arq.constants import job_key_prefix
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.jobs import JobRegistry, TaskContext, enqueue
from kiunga.platform.jobs.outbox import FailedJob
from kiunga.platform.models import TenantStatus
from kiunga.platform.tenant_admin import set_tenant_status
from kiunga.tenants.sites.models import Site
from sqlalchemy import select

jobs = JobRegistry()
runs: list[tuple] = []


@jobs.task(name="test_tasks.rename_site")
async def rename_site(ctx: TaskContext, tenant_slug: str, site_id: int, suffix: str):
    runs.append((tenant_slug, site_id, suffix, ctx.session.info[TENANT_SCHEMA_KEY], ctx.job_try))
    site = await ctx.session.get(Site, site_id)
    site.name = f"{site.name}-{suffix}"
    return site.name


@jobs.task(name="test_tasks.shaky", backoff=0.1)
async def shaky(ctx: TaskContext, tenant_slug: str, site_id: int):
    runs.append((tenant_slug, site_id, ctx.job_try))
    if ctx.job_try == 1:
        raise ConnectionResetError("SMS gateway hung up")


@jobs.task(name="test_tasks.hopeless", backoff=0.05, max_tries=3)
async def hopeless(ctx: TaskContext, tenant_slug: str, site_id: int):
    runs.append((tenant_slug, site_id, ctx.job_try))
    raise KeyError("no such package")


@pytest.fixture(autouse=True)
def clear_runs():
    runs.clear()


async def add_site(database, tenant, name="Kasarani") -> int:
    async with database.tenant_session(tenant.schema) as session, session.begin():
        site = Site(name=name)
        session.add(site)
        await session.flush()
        return site.id


async def test_same_work_enqueued_twice_runs_once(
    database, make_tenant, redis, worker_settings, jobs_harness
):
    tenant = make_tenant()
    site_id = await add_site(database, tenant)
    first = await enqueue(redis, rename_site, tenant, site_id, "north")
    second = await enqueue(redis, rename_site, tenant.slug, site_id, "north")
    assert first is not None and second is None
    assert first.job_id == f"test_tasks.rename_site:{tenant.slug}:{site_id}:north"

    await jobs_harness.burst(worker_settings(jobs))

    assert runs == [(tenant.slug, site_id, "north", tenant.schema, 1)]
    async with database.tenant_session(tenant.schema) as session:
        assert (await session.get(Site, site_id)).name == "Kasarani-north", "committed"
    # Finished work keeps its id for a while: enqueuing it again is still a no-op.
    assert await enqueue(redis, rename_site, tenant, site_id, "north") is None


async def test_jobs_travel_as_json_not_pickle(make_tenant, redis):
    tenant = make_tenant()
    job = await enqueue(redis, rename_site, tenant, 42, "east")
    raw = await redis.get(job_key_prefix + job.job_id)
    assert not raw.startswith(b"\x80"), "a pickle starts with its protocol byte"
    decoded = json.loads(raw)
    assert decoded["f"] == "task:test_tasks.rename_site"
    assert decoded["a"] == [tenant.slug, 42, "east"]
    assert decoded["k"] == {}


async def test_enqueue_takes_ids_only(make_tenant, redis):
    tenant = make_tenant()
    with pytest.raises(TypeError, match="ids"):
        await enqueue(redis, rename_site, tenant, {"site": 1}, "x")
    with pytest.raises(TypeError, match="ids"):
        await enqueue(redis, rename_site, tenant, 1.5, "x")
    with pytest.raises(ValueError, match="without ':'"):
        await enqueue(redis, rename_site, tenant, 1, "a:b")
    job = await enqueue(redis, rename_site, tenant, 1, uuid.UUID(int=7))
    assert job.job_id.endswith(str(uuid.UUID(int=7)))
    with pytest.raises(TypeError, match="@task"):
        await enqueue(redis, rename_site.fn, tenant, 1)


async def test_a_plain_exception_is_retried_with_backoff(
    database, make_tenant, redis, worker_settings, jobs_harness
):
    tenant = make_tenant()
    await enqueue(redis, shaky, tenant, 5)
    worker = await jobs_harness.burst(worker_settings(jobs))
    assert runs == [(tenant.slug, 5, 1), (tenant.slug, 5, 2)]
    assert worker.jobs_retried == 1 and worker.jobs_failed == 0 and worker.jobs_complete == 1


async def test_a_task_that_keeps_failing_is_recorded_in_its_tenant(
    database, make_tenant, redis, worker_settings, jobs_harness
):
    tenant = make_tenant()
    job = await enqueue(redis, hopeless, tenant, 9)
    worker = await jobs_harness.burst(worker_settings(jobs))
    assert [run[2] for run in runs] == [1, 2, 3]
    assert worker.jobs_failed == 1
    result = await job.result_info()
    assert result.success is False and "no such package" in result.result
    async with database.tenant_session(tenant.schema) as session:
        failures = (await session.scalars(select(FailedJob))).all()
    assert [(f.job_id, f.function, f.args, f.tries) for f in failures] == [
        (job.job_id, "task:test_tasks.hopeless", [tenant.slug, 9], 3)
    ]
    assert "KeyError" in failures[0].error


async def test_jobs_of_disabled_or_unknown_tenants_are_dropped_not_retried(
    engine, database, make_tenant, redis, worker_settings, jobs_harness
):
    tenant = make_tenant()
    site_id = await add_site(database, tenant)
    set_tenant_status(engine, tenant.slug, TenantStatus.DISABLED)
    disabled_job = await enqueue(redis, rename_site, tenant, site_id, "x")
    unknown_job = await enqueue(redis, rename_site, f"gone-{uuid.uuid4().hex[:8]}", site_id, "x")

    worker = await jobs_harness.burst(worker_settings(jobs))

    assert runs == []
    assert worker.jobs_retried == 0 and worker.jobs_failed == 0
    assert (await disabled_job.result()) == "dropped"
    assert (await unknown_job.result()) == "dropped"


async def test_enqueue_refuses_a_pickling_pool(jobs_redis_url):
    from arq.connections import RedisSettings, create_pool

    pickling = await create_pool(RedisSettings.from_dsn(jobs_redis_url))
    try:
        with pytest.raises(TypeError, match="JSON"):
            await enqueue(pickling, rename_site, "any-isp", 1, "x")
    finally:
        await pickling.aclose()
