"""Self-care's worker side: a device the subscriber removed from their hotspot login is
disconnected at the router (a Disconnect-Request for that device's sessions only), after
the removal committed and outside any web request: routers can take seconds to answer."""

from __future__ import annotations

from kiunga.platform.jobs.registry import JobRegistry, on_event
from kiunga.tenants.network.radius.dynauth import disconnect_device
from kiunga.tenants.services.models import Service

DEVICE_REMOVED = "selfcare.device_removed"


async def disconnect_removed_device(ctx, event) -> dict:
    service_id = event.payload["service_id"]
    if await ctx.session.get(Service, service_id) is None:
        return {"skipped": "no such service"}
    attempts = await disconnect_device(
        ctx.session, service_id, event.payload["mac_address"], reason=DEVICE_REMOVED
    )
    return {"attempts": len(attempts)}


HANDLERS = (on_event(DEVICE_REMOVED, name="selfcare.disconnect_device")(disconnect_removed_device),)


def register(registry: JobRegistry) -> None:
    """The handlers on a test's own registry."""
    registry.add(*HANDLERS)
