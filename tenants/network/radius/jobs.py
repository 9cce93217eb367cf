"""The worker's side of RADIUS: outbox handlers that disconnect or re-rate live sessions,
and the periodic job that closes sessions their router stopped reporting.

- `service.suspended`, `service.expired`, `service.terminated`: Disconnect-Request.
- `service.changed` (another package): CoA with the package's Mikrotik-Rate-Limit (or its
  fair-usage rate if the period's cap is already reached).
- `service.cap_reached`: CoA with the fair-usage rate, or Disconnect-Request when the
  package has none.
- `service.renewed`: CoA with the new period's Session-Timeout (prepaid) and rate (a session
  throttled in the old period would otherwise stay so, and be cut at the old expiry).
- every five minutes: sessions with no accounting for twice the interim interval
  (KIUNGA_RADIUS_INTERIM_SECONDS) are closed as of their last update.

A handler acts on the service as it is now, not as the event says it was, so a service
restored before its suspension's handler ran is left connected.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.registry import JobRegistry, on_event, periodic
from kiunga.platform.settings import get_settings
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.network.radius.accounting import CAP_REACHED, STALE
from kiunga.tenants.network.radius.dynauth import change_rate, current_rate, disconnect_service
from kiunga.tenants.network.radius.models import RadiusSession
from kiunga.tenants.services.models import Service, ServiceStatus
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kiunga.radius")

CUT_OFF = {
    "service.suspended": ServiceStatus.SUSPENDED,
    "service.expired": ServiceStatus.EXPIRED,
    "service.terminated": ServiceStatus.TERMINATED,
}


async def disconnect_on_event(ctx, event) -> dict:
    service_id = event.payload["service_id"]
    service = await ctx.session.get(Service, service_id)
    if service is None or service.status is not CUT_OFF[event.topic]:
        return {"skipped": "service no longer in that state"}
    attempts = await disconnect_service(ctx.session, service_id, reason=event.topic)
    return {"attempts": len(attempts)}


async def rerate_on_package_change(ctx, event) -> dict:
    service_id = event.payload["service_id"]
    rate = await current_rate(ctx.session, service_id)
    if rate is None:
        return {"skipped": "no rate"}
    attempts = await change_rate(ctx.session, service_id, rate, reason=event.topic)
    return {"attempts": len(attempts)}


async def act_on_cap_reached(ctx, event) -> dict:
    service_id = event.payload["service_id"]
    service = await ctx.session.get(Service, service_id)
    if service is None or service.status is not ServiceStatus.ACTIVE:
        return {"skipped": "service not active"}
    rate = await current_rate(ctx.session, service_id)
    if event.payload.get("action") == "throttle" and rate:
        attempts = await change_rate(ctx.session, service_id, rate, reason=event.topic)
    else:
        attempts = await disconnect_service(ctx.session, service_id, reason=event.topic)
    return {"attempts": len(attempts)}


async def refresh_on_renewal(ctx, event) -> dict:
    """A live session keeps the Session-Timeout of the period it began in, and the rate it
    had: a throttled one stays throttled. The new period's are sent by CoA."""
    service_id = event.payload["service_id"]
    service = await ctx.session.get(Service, service_id)
    if service is None or service.status is not ServiceStatus.ACTIVE:
        return {"skipped": "service not active"}
    rate = await current_rate(ctx.session, service_id)
    if rate is None:
        return {"skipped": "no rate"}
    left = int((service.expires_at - utcnow()).total_seconds()) if service.expires_at else None
    attempts = await change_rate(
        ctx.session,
        service_id,
        rate,
        reason=event.topic,
        session_timeout=left
        if left and left > 0 and await _prepaid(ctx.session, service)
        else None,
    )
    return {"attempts": len(attempts)}


async def _prepaid(session: AsyncSession, service: Service) -> bool:
    billing_type = await session.scalar(
        select(Package.billing_type).where(Package.id == service.package_id)
    )
    return billing_type == BillingType.PREPAID


async def close_stale_sessions(session: AsyncSession, *, interim_seconds: int) -> int:
    """Open sessions not updated for twice the interim interval: closed as of their last
    update (the router lost them, or their Stop never arrived)."""
    cutoff = utcnow() - timedelta(seconds=2 * interim_seconds)
    result = await session.execute(
        update(RadiusSession)
        .where(RadiusSession.stopped_at.is_(None), RadiusSession.updated_at < cutoff)
        .values(stopped_at=RadiusSession.updated_at, terminate_cause=STALE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def radius_close_stale(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    closed = await close_stale_sessions(
        ctx.session, interim_seconds=get_settings().radius_interim_seconds
    )
    return {"closed": closed}


# Listed in the network's manifest (area.py).
HANDLERS = (
    *(
        on_event(topic, name=f"network.radius_disconnect_{topic.split('.')[1]}")(
            disconnect_on_event
        )
        for topic in CUT_OFF
    ),
    on_event("service.changed", name="network.radius_rerate")(rerate_on_package_change),
    on_event(CAP_REACHED, name="network.radius_cap_reached")(act_on_cap_reached),
    on_event("service.renewed", name="network.radius_renewed")(refresh_on_renewal),
)
JOBS = (
    periodic("network.radius_close_stale", cron="*/5 * * * *", timeout=120)(radius_close_stale),
)


def register(registry: JobRegistry) -> None:
    """RADIUS's handlers and periodic job on a test's own registry."""
    registry.add(*HANDLERS, *JOBS)
