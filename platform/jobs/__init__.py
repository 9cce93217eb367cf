"""Background jobs on arq: tasks, outbox event handlers, periodic jobs, and the worker.

    from kiunga.platform.jobs import emit, enqueue, on_event, periodic, task

See `registry` for the rules every job follows (ids only, idempotent, retried with
backoff), `outbox` for events, and `worker` for running it all.
"""

from kiunga.platform.jobs.execution import TaskContext
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.jobs.queue import DEFAULT_QUEUE, create_redis_pool, enqueue
from kiunga.platform.jobs.registry import (
    JobRegistry,
    RetryPolicy,
    on_event,
    periodic,
    task,
)

__all__ = [
    "DEFAULT_QUEUE",
    "JobRegistry",
    "RetryPolicy",
    "TaskContext",
    "create_redis_pool",
    "emit",
    "enqueue",
    "on_event",
    "periodic",
    "task",
]
