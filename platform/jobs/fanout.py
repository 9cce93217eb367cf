"""Periodic jobs: one arq cron job per periodic, fanning out to every active tenant.

arq's cron runs in every worker process; its unique cron job ids already keep two
workers from both firing it. The per-tenant job ids carry the scheduled minute, so a
second fan-out for the same minute (a retry, an overlapping worker) enqueues nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from arq.cron import CronJob, cron
from arq.worker import Retry
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.execution import DATABASE_KEY
from kiunga.platform.jobs.registry import JobRegistry, PeriodicSpec, periodic_job_id
from kiunga.platform.jobs.tenants import active_tenants

log = logging.getLogger("kiunga.jobs")

# Enough parallel enqueues to fan out to a thousand tenants in well under a second,
# without opening a thousand Redis connections.
FAN_OUT_CONCURRENCY = 32
FAN_OUT_TRIES = 3
FAN_OUT_RETRY_DELAY = 5.0


def scheduled_minute(ctx: dict[str, Any]) -> datetime:
    """The minute this run belongs to. arq defers a cron job until its time, so the job's
    score is the scheduled time even when the job itself starts late."""
    scheduled = datetime.fromtimestamp(ctx["score"] / 1000, tz=UTC)
    return scheduled.replace(second=0, microsecond=0)


def fan_out_function(spec: PeriodicSpec):
    async def fan_out(ctx: dict[str, Any]) -> int:
        database: Database = ctx[DATABASE_KEY]
        redis = ctx["redis"]
        minute = scheduled_minute(ctx)
        tenants = await active_tenants(database)
        limit = asyncio.Semaphore(FAN_OUT_CONCURRENCY)

        async def enqueue_one(slug: str) -> bool:
            async with limit:
                job = await redis.enqueue_job(
                    spec.function_name,
                    slug,
                    minute.isoformat(),
                    _job_id=periodic_job_id(spec.name, slug, minute),
                )
                return job is not None

        try:
            results = await asyncio.gather(*(enqueue_one(t.slug) for t in tenants))
        except Exception as exc:
            # Tenants already queued are not queued twice, so trying again is safe.
            if ctx["job_try"] < FAN_OUT_TRIES:
                raise Retry(defer=FAN_OUT_RETRY_DELAY) from exc
            raise
        queued = sum(results)
        log.info(
            "periodic %s for %s: %d of %d active tenants queued",
            spec.name,
            minute.isoformat(),
            queued,
            len(tenants),
        )
        return queued

    fan_out.__qualname__ = spec.fan_out_name
    return fan_out


def cron_jobs(registry: JobRegistry) -> list[CronJob]:
    return [
        cron(
            fan_out_function(spec),
            name=spec.fan_out_name,
            second=0,
            microsecond=0,
            max_tries=FAN_OUT_TRIES,
            **spec.schedule.arq_fields(),
        )
        for spec in registry.periodics.values()
    ]
