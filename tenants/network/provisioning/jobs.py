"""Provisioning's jobs: a handler for each service event that changes what a router holds,
one for router changes, and the per-minute run of every router's queue (with a full
reconciliation every `FULL_SYNC_MINUTES`).

A handler queues its commands in its own transaction (so they commit together with the
record that the event was handled) and applies them at once when it can; what it cannot
apply (router offline, queue held by another run) the per-minute job applies later.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.jobs.registry import JobRegistry, on_event, periodic
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.provisioning.desired import api_routers_query
from kiunga.tenants.network.provisioning.queue import enqueue_for_service, enqueue_sync_all
from kiunga.tenants.network.provisioning.runner import (
    HANDLER_WAIT_SECONDS,
    ClientFactory,
    apply_pending,
    routeros_client,
    run_queues,
)
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.network.provisioning")

# Events after which a service's place on the routers may differ. service.renewed is not
# one: a renewal changes the period, not the router.
SERVICE_TOPICS = (
    "service.activated",
    "service.restored",
    "service.suspended",
    "service.expired",
    "service.terminated",
    "service.changed",
)
FULL_SYNC_MINUTES = 15


async def handle_service_event(
    session: AsyncSession,
    tenant: str,
    event: OutboxEvent,
    *,
    client_factory: ClientFactory = routeros_client,
) -> dict[str, Any]:
    """Queues a sync_service on each router holding the event's service, then applies."""
    service_id = event.payload.get("service_id")
    if not isinstance(service_id, int):
        return {"routers": 0}
    router_ids = await enqueue_for_service(session, service_id, event_id=event.id)
    reports = {}
    for router_id in router_ids:  # in id order, so that two handlers never wait on each other
        report = await apply_pending(
            session,
            tenant,
            router_id,
            client_factory=client_factory,
            wait_seconds=HANDLER_WAIT_SECONDS,
            skip_if_just_unreachable=True,
        )
        reports[router_id] = report.as_dict()
    return {"routers": len(router_ids), "reports": reports}


async def handle_router_event(
    session: AsyncSession,
    tenant: str,
    event: OutboxEvent,
    *,
    client_factory: ClientFactory = routeros_client,
) -> dict[str, Any]:
    """A router added or changed (new address, credentials, site, mode): sync it whole."""
    router_id = event.payload.get("router_id")
    if event.payload.get("change") == "deleted" or not isinstance(router_id, int):
        return {"routers": 0}
    if await session.scalar(api_routers_query().where(Router.id == router_id)) is None:
        return {"routers": 0}
    await enqueue_sync_all(session, router_id, event_id=event.id)
    # Not skipped when it did not answer just now: its address or password may be fixed.
    report = await apply_pending(
        session, tenant, router_id, client_factory=client_factory, wait_seconds=HANDLER_WAIT_SECONDS
    )
    return {"routers": 1, "reports": {router_id: report.as_dict()}}


def is_full_sync_minute(scheduled_for: datetime | None) -> bool:
    return scheduled_for is None or scheduled_for.minute % FULL_SYNC_MINUTES == 0


async def on_service_event(ctx, event: OutboxEvent) -> dict[str, Any]:
    return await handle_service_event(ctx.session, ctx.tenant.slug, event)


async def on_router_event(ctx, event: OutboxEvent) -> dict[str, Any]:
    return await handle_router_event(ctx.session, ctx.tenant.slug, event)


async def provision_routers(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    # Each router's queue runs in a transaction of its own, outside the job's.
    report = await run_queues(
        ctx.database,
        ctx.tenant.schema,
        tenant_slug,
        full_sync=is_full_sync_minute(scheduled_for),
    )
    if report["unreachable"] or report["failed"]:
        log.info("provisioning %s: %s", tenant_slug, report)
    return report


# Listed in the network's manifest (area.py).
HANDLERS = (
    *(
        on_event(topic, name=f"network.provision_{topic.replace('.', '_')}", timeout=120)(
            on_service_event
        )
        for topic in SERVICE_TOPICS
    ),
    on_event("router.changed", name="network.provision_router_changed", timeout=120)(
        on_router_event
    ),
)
JOBS = (
    periodic("network.provision_routers", cron="* * * * *", timeout=110, max_tries=2)(
        provision_routers
    ),
)


def register(registry: JobRegistry) -> None:
    """Provisioning's handlers and periodic job on a test's own registry."""
    registry.add(*HANDLERS, *JOBS)
