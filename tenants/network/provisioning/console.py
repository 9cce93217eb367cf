"""The router page's provisioning section: how many commands wait, the last few with their
outcome, and "Sync now" (owners, admins and technicians)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kiunga.platform.web.dependencies import CurrentTenant, Services
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.network import service
from kiunga.tenants.network.provisioning import queue, runner
from kiunga.tenants.network.provisioning.api import client_factory
from kiunga.tenants.network.provisioning.models import CommandStatus, RouterCommand
from kiunga.tenants.network.scopes import NETWORK_READ, NETWORK_WRITE
from litestar import Controller, Request, Response, post
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

RECENT = 8


async def provisioning_context(session: AsyncSession, router_id: int) -> dict[str, Any]:
    """What the router page shows of its queue (see templates/network/detail.html)."""
    return {
        "pending_commands": await queue.pending_count(session, router_id),
        "recent_commands": await queue.recent_commands(session, router_id, limit=RECENT),
    }


class RouterSyncPageController(Controller):
    path = "/routers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(NETWORK_READ)]

    @post("/{router_id:int}/sync", guards=[requires_scopes(NETWORK_WRITE)])
    async def sync_router(
        self,
        request: Request,
        services: Services,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> Response:
        try:
            command = await runner.sync_now(
                services.database,
                tenant.schema,
                tenant.slug,
                router_id,
                client_factory=client_factory(request),
            )
        except service.RouterError as exc:
            return _back(router_id, f"Not synced: {exc.message}")
        return _back(router_id, _outcome(command))


def _outcome(command: RouterCommand) -> str:
    if command.status is CommandStatus.DONE:
        return f"Synced: {command.summary}"
    if command.status is CommandStatus.FAILED:
        return f"Sync failed: {command.last_error}"
    if command.last_error:
        return f"Sync queued; it will be tried again: {command.last_error}"
    return "Sync queued"


def _back(router_id: int, notice: str) -> Response:
    return Redirect(f"/routers/{router_id}?notice={quote(notice[:300])}", status_code=303)
