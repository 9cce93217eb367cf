"""How a registered function runs inside arq: its tenant, its transaction, its retries.

arq retries a job only when it raises arq's own `Retry`; anything else fails the job for
good. Each function is therefore wrapped so that any exception (or a run past its timeout)
becomes `Retry(defer=backoff)` until the last try, after which it is logged, recorded in
the tenant's schema, and re-raised so arq stores the failed result too.

A job whose tenant is unknown or disabled is dropped with a log line: retrying it would
only fail again, and a re-enabled tenant's outbox is picked up by the relay's sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.worker import Function, Retry, func
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.deliveries import describe_error, finalize_event, record_delivery_failure
from kiunga.platform.jobs.outbox import FailedJob, OutboxDelivery, OutboxEvent
from kiunga.platform.jobs.registry import (
    EventHandlerSpec,
    JobRegistry,
    PeriodicSpec,
    RetryPolicy,
    TaskSpec,
)
from kiunga.platform.jobs.tenants import TenantRef, tenant_by_slug
from sqlalchemy import func as sql_func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.jobs")

# Keys of arq's worker context that the worker's startup fills in.
DATABASE_KEY = "kiunga_database"

# Returned (and kept by arq as the job's result) when a job did nothing on purpose.
DROPPED = "dropped"
ALREADY_DONE = "already done"

# arq's own timeout is kept above ours, so ours fires first and becomes a retry.
ARQ_TIMEOUT_MARGIN = 10.0


@dataclass
class TaskContext:
    """What a job function gets besides its ids."""

    tenant: TenantRef
    # Bound to the tenant's schema only, inside the job's transaction.
    session: AsyncSession
    redis: ArqRedis
    database: Database
    job_id: str
    job_try: int


FailureHook = Callable[[BaseException, bool], Awaitable[None]]


async def _run_with_retries(
    ctx: dict[str, Any],
    policy: RetryPolicy,
    body: Callable[[], Awaitable[Any]],
    on_failure: FailureHook,
) -> Any:
    job_try: int = ctx["job_try"]
    job_id: str = ctx["job_id"]
    try:
        async with asyncio.timeout(policy.timeout):
            return await body()
    except Exception as exc:
        final = job_try >= policy.max_tries
        try:
            await on_failure(exc, final)
        except Exception:
            log.exception("job %s: could not record its failure", job_id)
        if final:
            log.error(
                "job %s gave up after %d tries: %s",
                job_id,
                job_try,
                describe_error(exc),
                exc_info=exc,
            )
            raise
        delay = policy.delay(job_try)
        log.warning(
            "job %s failed (try %d of %d), retrying in %.1fs: %s",
            job_id,
            job_try,
            policy.max_tries,
            delay,
            describe_error(exc),
        )
        raise Retry(defer=delay) from exc


def _bind_log_context(ctx: dict[str, Any], tenant_slug: str) -> None:
    # arq runs each job in a task of its own, so these stay with this job's log lines.
    structlog.contextvars.bind_contextvars(tenant=tenant_slug, job_id=ctx["job_id"])


async def _active_tenant(database: Database, slug: str, job_id: str) -> TenantRef | None:
    tenant = await tenant_by_slug(database, slug)
    if tenant is None or not tenant.active:
        state = "unknown" if tenant is None else "disabled"
        log.warning("job %s dropped: tenant %r is %s", job_id, slug, state)
        return None
    return tenant


def _context(ctx: dict[str, Any], tenant: TenantRef, session: AsyncSession) -> TaskContext:
    return TaskContext(
        tenant=tenant,
        session=session,
        redis=ctx["redis"],
        database=ctx[DATABASE_KEY],
        job_id=ctx["job_id"],
        job_try=ctx["job_try"],
    )


def _failed_job_recorder(ctx: dict[str, Any], function: str, args: list[Any]) -> FailureHook:
    async def record(exc: BaseException, final: bool) -> None:
        if not final:
            return
        database: Database = ctx[DATABASE_KEY]
        tenant = await tenant_by_slug(database, args[0])
        if tenant is None:
            return
        async with database.tenant_session(tenant.schema) as session, session.begin():
            session.add(
                FailedJob(
                    job_id=ctx["job_id"],
                    function=function,
                    args=args,
                    tries=ctx["job_try"],
                    error=describe_error(exc),
                )
            )

    return record


def _arq_function(
    name: str,
    policy: RetryPolicy,
    run: Callable[..., Awaitable[Any]],
    keep_result: float | None = None,
) -> Function:
    return func(
        run,
        name=name,
        max_tries=policy.max_tries,
        timeout=policy.timeout + ARQ_TIMEOUT_MARGIN,
        keep_result=keep_result,
    )


def task_function(spec: TaskSpec | PeriodicSpec) -> Function:
    """`(ctx, tenant_slug, *ids)` in a tenant transaction; periodic jobs get their
    scheduled minute (an ISO string on the wire) back as a datetime."""
    is_periodic = isinstance(spec, PeriodicSpec)

    async def run(ctx: dict[str, Any], tenant_slug: str, *ids: Any) -> Any:
        _bind_log_context(ctx, tenant_slug)
        database: Database = ctx[DATABASE_KEY]

        async def body() -> Any:
            tenant = await _active_tenant(database, tenant_slug, ctx["job_id"])
            if tenant is None:
                return DROPPED
            args = (datetime.fromisoformat(ids[0]),) if is_periodic else ids
            async with database.tenant_session(tenant.schema) as session, session.begin():
                return await spec.fn(_context(ctx, tenant, session), tenant.slug, *args)

        recorder = _failed_job_recorder(ctx, spec.function_name, [tenant_slug, *ids])
        return await _run_with_retries(ctx, spec.retry, body, recorder)

    return _arq_function(spec.function_name, spec.retry, run)


def handler_function(spec: EventHandlerSpec, registry: JobRegistry) -> Function:
    """`(ctx, event)` once per event: the delivery row is locked, checked, and marked
    done in the handler's own transaction."""

    async def run(ctx: dict[str, Any], tenant_slug: str, event_id: int) -> Any:
        _bind_log_context(ctx, tenant_slug)
        database: Database = ctx[DATABASE_KEY]
        schema: list[str] = []  # known once the tenant was found; used by the failure hook

        async def body() -> Any:
            tenant = await _active_tenant(database, tenant_slug, ctx["job_id"])
            if tenant is None:
                return DROPPED
            schema.append(tenant.schema)
            async with database.tenant_session(tenant.schema) as session, session.begin():
                event = await session.get(OutboxEvent, event_id)
                if event is None:
                    log.warning("job %s: event %s no longer exists", ctx["job_id"], event_id)
                    return DROPPED
                delivery = await _lock_delivery(session, event_id, spec.name)
                if delivery.completed_at is not None or delivery.failed_at is not None:
                    return ALREADY_DONE
                result = await spec.fn(_context(ctx, tenant, session), event)
                delivery.attempts += 1
                delivery.completed_at = sql_func.now()
                delivery.last_error = None
                handlers = [h.name for h in registry.handlers_for(event.topic)]
                await finalize_event(session, event_id, handlers)
                return result

        async def on_failure(exc: BaseException, final: bool) -> None:
            if not schema:
                return
            topic_handlers = await _handler_names(database, schema[0], event_id, registry)
            await record_delivery_failure(
                database,
                schema[0],
                event_id,
                spec.name,
                describe_error(exc),
                final=final,
                handlers=topic_handlers,
            )

        return await _run_with_retries(ctx, spec.retry, body, on_failure)

    # The delivery row, not a result kept in Redis, says whether the handler is done; a
    # kept result would make arq ignore a re-send (after a dropped run, for instance).
    return _arq_function(spec.function_name, spec.retry, run, keep_result=0)


async def _lock_delivery(session: AsyncSession, event_id: int, handler: str) -> OutboxDelivery:
    # Created on first sight, then locked: a duplicate run of this handler for this event
    # waits here and then finds it done.
    await session.execute(
        insert(OutboxDelivery)
        .values(event_id=event_id, handler=handler, attempts=0)
        .on_conflict_do_nothing()
    )
    return await session.scalar(
        select(OutboxDelivery)
        .where(OutboxDelivery.event_id == event_id, OutboxDelivery.handler == handler)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _handler_names(
    database: Database, schema: str, event_id: int, registry: JobRegistry
) -> list[str]:
    async with database.tenant_session(schema) as session:
        topic = await session.scalar(select(OutboxEvent.topic).where(OutboxEvent.id == event_id))
    return [h.name for h in registry.handlers_for(topic)] if topic else []


def arq_functions(registry: JobRegistry) -> list[Function]:
    functions = [task_function(spec) for spec in registry.tasks.values()]
    functions += [task_function(spec) for spec in registry.periodics.values()]
    functions += [
        handler_function(spec, registry)
        for handlers in registry.handlers.values()
        for spec in handlers
    ]
    return functions
