"""The periodic job through a real worker: arq on the test Redis, the tenant's transaction
opened and committed by the job machinery, the run's clock its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kiunga.platform.jobs import JobRegistry
from kiunga.platform.jobs.registry import periodic_job_id
from kiunga.tenants.actors import Actor
from kiunga.tenants.catalog.models import ValidityUnit
from kiunga.tenants.lifecycle.jobs import lifecycle_run
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import NewService, create_service

STAFF = Actor.staff(3, "ops@isp.example")


@pytest.fixture
def lifecycle_jobs() -> JobRegistry:
    registry = JobRegistry()
    registry.periodic(lifecycle_run.name, cron="*/5 * * * *")(lifecycle_run.fn)
    return registry


async def test_the_job_expires_what_ran_out(
    tenant,
    unit_of_work,
    add_subscriber,
    add_package,
    topics,
    lifecycle_jobs,
    worker_settings,
    jobs_harness,
):
    subscriber = await add_subscriber()
    package = await add_package(price=5_000, validity_count=1, validity_unit=ValidityUnit.HOUR)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(subscriber_id=subscriber, package_id=package),
            actor=STAFF,
            now=two_hours_ago,
            allow_unpaid=True,
        )
        service_id = service.id

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    async with jobs_harness.running(worker_settings(lifecycle_jobs)) as worker:
        await worker.pool.enqueue_job(
            lifecycle_run.function_name,
            tenant.slug,
            minute.isoformat(),
            _job_id=periodic_job_id(lifecycle_run.name, tenant.slug, minute),
        )
        await jobs_harness.until(lambda: worker.jobs_complete + worker.jobs_failed >= 1)
    assert worker.jobs_failed == 0
    async with unit_of_work() as session:
        assert (await session.get(Service, service_id)).status is ServiceStatus.EXPIRED
    assert [p["service_id"] for _, p in await topics("service.expired")] == [service_id]
