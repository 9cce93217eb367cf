"""The outbox relay: moves committed events from tenant outboxes onto the arq queue.

Two ways in, one way out. PostgreSQL notifies the 'kiunga_outbox' channel with the tenant's
schema when an event commits, and the relay drains that tenant at once; a sweep every
`sweep_interval` seconds catches whatever a notification missed (the relay was down, the
listening connection dropped, Redis refused the jobs) and re-sends events whose jobs were
handed over long ago and never finished, in case Redis lost them.

Draining happens in one tenant transaction: pending rows are locked (SKIP LOCKED, so two
relays share the work), one job per (event, unfinished handler) is enqueued under the id
`<tenant>:<event id>:<handler>`, and the rows are marked dispatched. If Redis fails, the
transaction rolls back and the events stay pending; if the commit fails after the jobs
were queued, the re-send queues the same ids again, which arq ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta

from arq.connections import ArqRedis
from kiunga.platform.db.engine import Database
from kiunga.platform.db.listen import listen_forever
from kiunga.platform.db.naming import validate_schema
from kiunga.platform.jobs.deliveries import finalize_event, finished_handlers
from kiunga.platform.jobs.outbox import NOTIFY_CHANNEL, OutboxEvent
from kiunga.platform.jobs.registry import JobRegistry, delivery_job_id
from kiunga.platform.jobs.serialization import serialize
from kiunga.platform.jobs.tenants import TenantRef, active_tenants, tenant_by_schema
from sqlalchemy import func, select, text, update

log = logging.getLogger("kiunga.jobs.relay")

# Tenants checked for pending events per query in a sweep.
SWEEP_CHUNK = 200
ENQUEUE_CONCURRENCY = 32


def _pending(redispatch_after: float):
    resend_before = func.now() - timedelta(seconds=redispatch_after)
    return (
        OutboxEvent.completed_at.is_(None)
        & OutboxEvent.failed_at.is_(None)
        & (OutboxEvent.dispatched_at.is_(None) | (OutboxEvent.dispatched_at < resend_before))
    )


_PENDING_SQL = (
    "completed_at IS NULL AND failed_at IS NULL AND (dispatched_at IS NULL "
    "OR dispatched_at < now() - make_interval(secs => :redispatch_after))"
)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        redis: ArqRedis,
        registry: JobRegistry,
        *,
        sweep_interval: float = 30.0,
        redispatch_after: float = 300.0,
        batch_size: int = 100,
    ):
        if redis.job_serializer is not serialize:
            raise TypeError("the relay needs a pool from create_redis_pool(), which writes JSON")
        self.database = database
        self.redis = redis
        self.registry = registry
        self.sweep_interval = sweep_interval
        self.redispatch_after = redispatch_after
        self.batch_size = batch_size
        self.listening = asyncio.Event()
        self._notified: set[str] = set()
        self._wake = asyncio.Event()
        # The listener asks for the first sweep once it is connected; the timer covers the
        # case where it never connects.
        self._sweep_due = False
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ draining

    async def drain_tenant(self, tenant: TenantRef) -> int:
        """Dispatch the tenant's pending events; returns how many were handed to the queue.
        Raises if Redis or the database fails, leaving those events pending."""
        dispatched = 0
        after_id = 0
        while True:
            async with self.database.tenant_session(tenant.schema) as session, session.begin():
                events = (
                    await session.execute(
                        select(OutboxEvent.id, OutboxEvent.topic)
                        .where(_pending(self.redispatch_after), OutboxEvent.id > after_id)
                        .order_by(OutboxEvent.id)
                        .limit(self.batch_size)
                        .with_for_update(skip_locked=True, key_share=True)
                    )
                ).all()
                if not events:
                    return dispatched
                finished = await finished_handlers(session, [e.id for e in events])
                jobs: list[tuple[str, int]] = []
                sent: list[int] = []
                without_handlers: list[int] = []
                for event in events:
                    names = [h.name for h in self.registry.handlers_for(event.topic)]
                    todo = [h for h in names if h not in finished.get(event.id, {})]
                    if todo:
                        sent.append(event.id)
                        jobs.extend((name, event.id) for name in todo)
                    elif not names:
                        without_handlers.append(event.id)
                    else:
                        # Every handler finished but the event was never closed (a handler
                        # was removed meanwhile): close it now.
                        await finalize_event(session, event.id, names)
                await self._enqueue(tenant.slug, jobs)
                if sent:
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id.in_(sent))
                        .values(dispatched_at=func.now(), attempts=OutboxEvent.attempts + 1)
                    )
                if without_handlers:
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id.in_(without_handlers))
                        .values(completed_at=func.now())
                    )
            dispatched += len(sent)
            after_id = events[-1].id
            if len(events) < self.batch_size:
                return dispatched

    async def _enqueue(self, tenant_slug: str, jobs: Sequence[tuple[str, int]]) -> None:
        limit = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

        async def one(handler_name: str, event_id: int) -> None:
            async with limit:
                await self.redis.enqueue_job(
                    f"handler:{handler_name}",
                    tenant_slug,
                    event_id,
                    _job_id=delivery_job_id(tenant_slug, event_id, handler_name),
                )

        await asyncio.gather(*(one(name, event_id) for name, event_id in jobs))

    async def drain_schema(self, schema: str) -> int:
        """Drain the tenant a notification named, if it is a known, active tenant."""
        try:
            validate_schema(schema)
        except ValueError:
            log.warning("ignoring outbox notification for %r: not a tenant schema", schema)
            return 0
        tenant = await tenant_by_schema(self.database, schema)
        if tenant is None or not tenant.active:
            return 0
        return await self.drain_tenant(tenant)

    async def sweep(self) -> int:
        """Drain every active tenant that has pending or overdue events."""
        tenants = await active_tenants(self.database)
        dispatched = 0
        for tenant in await self._tenants_with_pending(tenants):
            try:
                dispatched += await self.drain_tenant(tenant)
            except Exception as exc:
                log.warning("outbox of %s not drained, will retry: %s", tenant.slug, exc)
        return dispatched

    async def _tenants_with_pending(self, tenants: Sequence[TenantRef]) -> list[TenantRef]:
        """One query per SWEEP_CHUNK tenants, riding each schema's partial index."""
        found: list[TenantRef] = []
        params = {"redispatch_after": float(self.redispatch_after)}
        for start in range(0, len(tenants), SWEEP_CHUNK):
            chunk = tenants[start : start + SWEEP_CHUNK]
            parts = [
                f'SELECT {i} AS n WHERE EXISTS (SELECT 1 FROM "{validate_schema(t.schema)}"'
                f".outbox_events WHERE {_PENDING_SQL})"
                for i, t in enumerate(chunk)
            ]
            try:
                async with self.database.engine.connect() as connection:
                    rows = await connection.execute(text(" UNION ALL ".join(parts)), params)
                    found.extend(chunk[n] for (n,) in rows)
            except Exception as exc:
                # One broken schema (a failed migration) must not hide the others' events.
                log.warning("batched outbox check failed, draining one by one: %s", exc)
                found.extend(chunk)
        return found

    # ------------------------------------------------------------------ running

    async def start(self, *, ready_timeout: float = 10.0) -> None:
        """Start listening and sweeping in the background; returns once listening."""
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="outbox-listen"),
            asyncio.create_task(self._dispatch_forever(), name="outbox-dispatch"),
        ]
        try:
            await asyncio.wait_for(self.listening.wait(), ready_timeout)
        except TimeoutError:
            log.warning("outbox relay not listening yet; the sweep covers until it is")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.listening.clear()

    async def _listen_forever(self) -> None:
        def listening() -> None:
            self.listening.set()
            # Whatever committed while we were not listening was not notified to us.
            self._request_sweep()

        def notified(schema: str) -> None:
            self._notified.add(schema)
            self._wake.set()

        await listen_forever(
            self.database.url,
            NOTIFY_CHANNEL,
            on_notify=notified,
            on_listen=listening,
            on_lost=self.listening.clear,
            what="outbox relay",
        )

    def _request_sweep(self) -> None:
        self._sweep_due = True
        self._wake.set()

    async def _dispatch_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.sweep_interval
        while True:
            timeout = max(0.0, next_sweep - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            if self._sweep_due or loop.time() >= next_sweep:
                self._sweep_due = False
                next_sweep = loop.time() + self.sweep_interval
                await self._logged("sweep", self.sweep())
            notified, self._notified = self._notified, set()
            for schema in sorted(notified):
                await self._logged(f"outbox of {schema}", self.drain_schema(schema))

    async def _logged(self, what: str, work) -> None:
        try:
            await work
        except Exception as exc:
            # Redis or PostgreSQL down: the events stay pending for the next sweep.
            log.warning("%s failed, will retry at the next sweep: %s", what, exc)
