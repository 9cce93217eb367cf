"""Periodic jobs fan out to every active tenant, once per scheduled minute."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from arq.constants import result_key_prefix
from kiunga.platform.jobs import JobRegistry, TaskContext
from kiunga.platform.jobs.fanout import cron_jobs
from kiunga.platform.jobs.schedule import Schedule, parse_cron
from kiunga.platform.jobs.tenants import active_tenants
from kiunga.platform.models import TenantStatus
from kiunga.platform.tenant_admin import set_tenant_status

jobs = JobRegistry()
runs: list[tuple[str, datetime, str]] = []


@jobs.periodic("test_periodic.nightly", cron="30 3 * * *")
async def nightly(ctx: TaskContext, tenant_slug: str, scheduled_for: datetime):
    runs.append((tenant_slug, scheduled_for, ctx.tenant.schema))


@pytest.fixture(autouse=True)
def clear_runs():
    runs.clear()


async def test_fan_out_reaches_every_active_tenant_once_and_skips_disabled(
    engine, database, make_tenant, redis, worker_settings, jobs_harness
):
    first, second, disabled = make_tenant(), make_tenant(), make_tenant()
    set_tenant_status(engine, disabled.slug, TenantStatus.DISABLED)
    active = {t.slug: t.schema for t in await active_tenants(database)}
    assert {first.slug, second.slug} <= active.keys() and disabled.slug not in active

    async with jobs_harness.running(worker_settings(jobs)) as worker:
        (fan_out,) = worker.cron_jobs
        # Fire it through arq's own cron machinery, a moment from now…
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        fan_out.next_run = fire_at
        await worker.run_cron(fire_at - timedelta(seconds=0.5), delay=0.5)
        # …and again for the same minute under another id, as a second worker or a
        # retried fan-out would.
        await worker.pool.enqueue_job(fan_out.name, _job_id="second-fire", _defer_until=fire_at)
        # Two fan-outs and one job per active tenant, nothing more.
        await jobs_harness.until(lambda: worker.jobs_complete >= 2 + len(active))

    minute = fire_at.replace(second=0)
    assert Counter(slug for slug, _, _ in runs) == Counter(active.keys())
    assert {(slug, schema) for slug, _, schema in runs} == set(active.items())
    assert {scheduled for _, scheduled, _ in runs} == {minute}
    assert worker.jobs_complete == 2 + len(active) and worker.jobs_failed == 0
    job_id = f"test_periodic.nightly:{first.slug}:{minute:%Y-%m-%dT%H:%M}"
    assert await redis.exists(result_key_prefix + job_id)


def test_cron_job_is_built_from_the_schedule():
    (job,) = cron_jobs(jobs)
    assert job.name == "fan-out:test_periodic.nightly"
    assert (job.minute, job.hour, job.day, job.month, job.weekday) == ({30}, {3}, None, None, None)
    assert job.second == 0 and job.unique


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("*/15 * * * *", Schedule(minute=frozenset({0, 15, 30, 45}))),
        ("0 6-8 1,15 * *", Schedule(frozenset({0}), frozenset({6, 7, 8}), frozenset({1, 15}))),
        # cron's Monday is 1 and Sunday 0 or 7; arq's Monday is 0 and Sunday 6.
        ("0 0 * * 1-5", Schedule(frozenset({0}), frozenset({0}), weekday=frozenset(range(5)))),
        ("0 0 * * 0,7", Schedule(frozenset({0}), frozenset({0}), weekday=frozenset({6}))),
    ],
)
def test_cron_lines(line, expected):
    assert parse_cron(line) == expected


@pytest.mark.parametrize("line", ["* * * *", "60 * * * *", "5-1 * * * *", "*/0 * * * *"])
def test_bad_cron_lines_are_refused(line):
    with pytest.raises(ValueError):
        parse_cron(line)


def test_periodic_needs_a_minute():
    with pytest.raises(ValueError, match="minute"):
        JobRegistry().periodic("test_periodic.every_minute_by_accident", hour=3)
