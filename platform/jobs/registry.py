"""What the worker can run: tasks, outbox event handlers and periodic jobs, and their ids.

Three decorators turn functions into job specs; an area lists its specs in its manifest
and the kernel gathers every area's into the worker's `JobRegistry` (nothing is
registered by importing a module):

    @task                                   # a tenant task, enqueued with enqueue()
    async def send_receipt(ctx, tenant_slug, payment_id): ...

    @on_event("payment.received")           # runs once per event, after its commit
    async def restore_service(ctx, event): ...

    @periodic("billing.expire_due", cron="*/5 * * * *")   # every active tenant
    async def expire_due(ctx, tenant_slug, scheduled_for): ...

A test may also build a `JobRegistry` of its own and use its methods of the same names,
which make the spec and add it at once.

`ctx` is a `TaskContext`: the tenant, a session bound to that tenant's schema and already
inside a transaction (committed when the function returns, rolled back if it raises), and
the Redis pool. Jobs carry ids only, never objects: state is read from the database when
the job runs, so a retried job sees the present, not the past.

Every job may run more than once (a retry after a crash half-way, a re-send after Redis
lost a job), so every function must be idempotent. Event handlers get more help: the
record that a handler finished an event is committed in the same transaction as the
handler's database work, so their database effects happen once; only effects outside the
database (an SMS, a router command) must be made safe to repeat by the handler itself
(a provider reference as idempotency key, a "set" rather than a "toggle").

Jobs run concurrently and in no promised order, events of one tenant included; a handler
that depends on an earlier state change reads it from the database rather than assuming
the earlier event was handled first.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiunga.platform.jobs.schedule import Schedule, schedule_from


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `backoff`, 2×, 4×, … seconds, capped, `max_tries` runs in all."""

    max_tries: int = 10
    backoff: float = 5.0
    max_backoff: float = 900.0
    # A run longer than this is treated like any failure (retried), not left hanging.
    timeout: float = 300.0

    def delay(self, job_try: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (job_try - 1))


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    retry: RetryPolicy

    @property
    def function_name(self) -> str:
        return f"task:{self.name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fn(*args, **kwargs)


@dataclass(frozen=True)
class EventHandlerSpec:
    topic: str
    name: str
    fn: Callable[..., Awaitable[Any]]
    retry: RetryPolicy

    @property
    def function_name(self) -> str:
        return f"handler:{self.name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fn(*args, **kwargs)


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    retry: RetryPolicy
    schedule: Schedule

    @property
    def function_name(self) -> str:
        return f"periodic:{self.name}"

    @property
    def fan_out_name(self) -> str:
        return f"fan-out:{self.name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fn(*args, **kwargs)


DEFAULT_RETRY = RetryPolicy()


def _default_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__.removeprefix('kiunga.')}.{fn.__qualname__}"


def _check_name(name: str) -> str:
    # Task and periodic job ids start with the name, delivery ids with a tenant slug; slugs
    # never contain a dot, so a dotted name can never produce another kind's id.
    if "." not in name or ":" in name or len(name) > 150:
        raise ValueError(
            f"job name {name!r} must be dotted like 'billing.send_invoice', without ':' "
            "and at most 150 characters"
        )
    return name


def _policy(default: RetryPolicy, **overrides: Any) -> RetryPolicy:
    given = {key: value for key, value in overrides.items() if value is not None}
    return RetryPolicy(**{**default.__dict__, **given})


def task(
    fn: Callable[..., Awaitable[Any]] | None = None,
    *,
    name: str | None = None,
    max_tries: int | None = None,
    backoff: float | None = None,
    max_backoff: float | None = None,
    timeout: float | None = None,
    default_retry: RetryPolicy = DEFAULT_RETRY,
) -> Any:
    """`async def fn(ctx, tenant_slug, *ids)` as a task; enqueue it with `enqueue()`."""

    def make(fn: Callable[..., Awaitable[Any]]) -> TaskSpec:
        return TaskSpec(
            name=_check_name(name or _default_name(fn)),
            fn=fn,
            retry=_policy(
                default_retry,
                max_tries=max_tries, backoff=backoff, max_backoff=max_backoff, timeout=timeout,
            ),
        )  # fmt: skip

    return make(fn) if fn is not None else make


def on_event(
    topic: str,
    *,
    name: str | None = None,
    max_tries: int | None = None,
    backoff: float | None = None,
    max_backoff: float | None = None,
    timeout: float | None = None,
    default_retry: RetryPolicy = DEFAULT_RETRY,
) -> Callable[[Callable[..., Awaitable[Any]]], EventHandlerSpec]:
    """`async def fn(ctx, event)` to run once for each committed `topic` event.

    The name is stored with the event's progress: renaming a handler makes pending
    events of its topic wait for a handler that no longer exists.
    """

    def make(fn: Callable[..., Awaitable[Any]]) -> EventHandlerSpec:
        return EventHandlerSpec(
            topic=topic,
            name=_check_name(name or _default_name(fn)),
            fn=fn,
            retry=_policy(
                default_retry,
                max_tries=max_tries, backoff=backoff, max_backoff=max_backoff, timeout=timeout,
            ),
        )  # fmt: skip

    return make


def periodic(
    name: str,
    *,
    cron: str | None = None,
    minute: int | Iterable[int] | None = None,
    hour: int | Iterable[int] | None = None,
    day: int | Iterable[int] | None = None,
    month: int | Iterable[int] | None = None,
    weekday: int | Iterable[int] | None = None,
    max_tries: int | None = None,
    backoff: float | None = None,
    timeout: float | None = None,
    default_retry: RetryPolicy = DEFAULT_RETRY,
) -> Callable[[Callable[..., Awaitable[Any]]], PeriodicSpec]:
    """`async def fn(ctx, tenant_slug, scheduled_for)`, run for every active tenant at each
    time the schedule names (UTC). `scheduled_for` is the minute the run belongs to, so a
    late or repeated run can tell which period it is doing."""
    schedule = schedule_from(cron, minute=minute, hour=hour, day=day, month=month, weekday=weekday)

    def make(fn: Callable[..., Awaitable[Any]]) -> PeriodicSpec:
        return PeriodicSpec(
            name=_check_name(name),
            fn=fn,
            retry=_policy(default_retry, max_tries=max_tries, backoff=backoff, timeout=timeout),
            schedule=schedule,
        )

    return make


JobSpec = TaskSpec | EventHandlerSpec | PeriodicSpec


@dataclass
class JobRegistry:
    """The worker's jobs by name, and the handlers of each topic; a name is taken once."""

    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    handlers: dict[str, list[EventHandlerSpec]] = field(default_factory=dict)
    periodics: dict[str, PeriodicSpec] = field(default_factory=dict)
    default_retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def of(cls, specs: Iterable[JobSpec]) -> JobRegistry:
        registry = cls()
        registry.add(*specs)
        return registry

    def _claim(self, name: str) -> str:
        taken = (
            set(self.tasks)
            | set(self.periodics)
            | {h.name for hs in self.handlers.values() for h in hs}
        )
        if name in taken:
            raise ValueError(f"a job named {name!r} is already registered")
        return name

    def add(self, *specs: JobSpec) -> None:
        for spec in specs:
            self._claim(spec.name)
            if isinstance(spec, TaskSpec):
                self.tasks[spec.name] = spec
            elif isinstance(spec, PeriodicSpec):
                self.periodics[spec.name] = spec
            elif isinstance(spec, EventHandlerSpec):
                self.handlers.setdefault(spec.topic, []).append(spec)
            else:
                raise TypeError(f"not a job spec: {spec!r}")

    @property
    def names(self) -> frozenset[str]:
        return frozenset(
            set(self.tasks) | set(self.periodics)
            | {h.name for hs in self.handlers.values() for h in hs}
        )  # fmt: skip

    def task(self, fn: Callable[..., Awaitable[Any]] | None = None, **options: Any) -> Any:
        """`task(...)`, added to this registry."""

        def add(fn: Callable[..., Awaitable[Any]]) -> TaskSpec:
            spec = task(fn, default_retry=self.default_retry, **options)
            self.add(spec)
            return spec

        return add(fn) if fn is not None else add

    def on_event(self, topic: str, **options: Any) -> Callable[..., EventHandlerSpec]:
        """`on_event(...)`, added to this registry."""

        make = on_event(topic, default_retry=self.default_retry, **options)

        def add(fn: Callable[..., Awaitable[Any]]) -> EventHandlerSpec:
            spec = make(fn)
            self.add(spec)
            return spec

        return add

    def periodic(self, name: str, **options: Any) -> Callable[..., PeriodicSpec]:
        """`periodic(...)`, added to this registry."""
        make = periodic(name, default_retry=self.default_retry, **options)  # checks the cron

        def add(fn: Callable[..., Awaitable[Any]]) -> PeriodicSpec:
            spec = make(fn)
            self.add(spec)
            return spec

        return add

    def handlers_for(self, topic: str) -> list[EventHandlerSpec]:
        return self.handlers.get(topic, [])


# ---------------------------------------------------------------- deterministic job ids

JobId = int | str


def check_ids(ids: Iterable[Any]) -> tuple[JobId, ...]:
    """Ids only: ints and short strings (UUIDs become strings). Anything else is refused
    here, before it could be stringified into a job nobody can run."""
    checked: list[JobId] = []
    for value in ids:
        if isinstance(value, uuid.UUID):
            value = str(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"job arguments must be ids (int or str), got {value!r}")
        if isinstance(value, str) and (":" in value or not value or len(value) > 100):
            raise ValueError(f"a string id must be 1-100 characters without ':', got {value!r}")
        checked.append(value)
    return tuple(checked)


def task_job_id(task_name: str, tenant_slug: str, ids: Iterable[JobId]) -> str:
    return ":".join([task_name, tenant_slug, *map(str, ids)])


def delivery_job_id(tenant_slug: str, event_id: int, handler_name: str) -> str:
    return f"{tenant_slug}:{event_id}:{handler_name}"


def periodic_job_id(name: str, tenant_slug: str, scheduled_for: datetime) -> str:
    return f"{name}:{tenant_slug}:{scheduled_for:%Y-%m-%dT%H:%M}"
