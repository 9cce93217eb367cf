"""Putting work on the queue: a JSON-speaking Redis pool and `enqueue()`.

Business code inside a database transaction should `emit()` an outbox event instead of
enqueuing: a job enqueued before the commit could run against data that then rolls back,
and one enqueued after it is lost if the process dies in between. `enqueue()` is for code
that is not inside a transaction: a job starting follow-up jobs, the CLI, tests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.jobs import Job
from kiunga.platform.jobs.registry import TaskSpec, check_ids, task_job_id
from kiunga.platform.jobs.serialization import deserialize, serialize

DEFAULT_QUEUE = "kiunga:queue"


class HasSlug(Protocol):
    slug: str


def redis_settings(redis_url: str) -> RedisSettings:
    return RedisSettings.from_dsn(redis_url)


async def create_redis_pool(redis_url: str, queue_name: str = DEFAULT_QUEUE) -> ArqRedis:
    """An arq pool that writes JSON jobs to `queue_name`."""
    return await create_pool(
        redis_settings(redis_url),
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_name,
    )


def slug_of(tenant: str | HasSlug) -> str:
    return tenant if isinstance(tenant, str) else tenant.slug


async def enqueue(
    redis: ArqRedis,
    task: TaskSpec,
    tenant: str | HasSlug,
    *ids: Any,
    job_id: str | None = None,
    defer_by: float | timedelta | None = None,
) -> Job | None:
    """Queue `task` for `tenant` with `ids`. The job id is derived from the three, so the
    same work queued twice runs once; None means it was already queued (or ran within the
    result retention, an hour). Pass `job_id` for work that is meant to repeat."""
    if not isinstance(task, TaskSpec):
        raise TypeError(f"enqueue() takes a function registered with @task, got {task!r}")
    if redis.job_serializer is not serialize:
        # A pickling pool would write jobs the worker refuses to read.
        raise TypeError("enqueue() needs a pool from create_redis_pool(), which writes JSON")
    slug = slug_of(tenant)
    checked = check_ids(ids)
    return await redis.enqueue_job(
        task.function_name,
        slug,
        *checked,
        _job_id=job_id or task_job_id(task.name, slug, checked),
        _defer_by=defer_by,
    )
