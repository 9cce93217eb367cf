"""/api/v1/routers/{id}/commands and /sync: a router's provisioning queue, and a full
reconciliation on demand. Reading needs network:read, syncing network:write; a reseller's
key is refused, as for the routers themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from kiunga.platform.web.controllers import TenantApiController
from kiunga.platform.web.dependencies import CurrentTenant, Services, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, Limit, Offset
from kiunga.tenants.network import service
from kiunga.tenants.network.provisioning import queue, runner
from kiunga.tenants.network.provisioning.models import RouterCommand
from kiunga.tenants.network.scopes import NETWORK_READ, NETWORK_WRITE
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_202_ACCEPTED

CLIENT_FACTORY_KEY = "network_provisioning_client_factory"


def client_factory(request: Request) -> runner.ClientFactory:
    """The RouterOS client, unless the app was given another."""
    return request.app.state.get(CLIENT_FACTORY_KEY) or runner.routeros_client


class RouterCommandRead(msgspec.Struct):
    id: int
    router_id: int
    sequence: int
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    summary: str | None
    created_at: datetime
    done_at: datetime | None

    @classmethod
    def of(cls, command: RouterCommand) -> RouterCommandRead:
        return cls(
            id=command.id,
            router_id=command.router_id,
            sequence=command.sequence,
            kind=command.kind.value,
            payload=dict(command.payload or {}),
            status=command.status.value,
            attempts=command.attempts,
            last_error=command.last_error,
            next_attempt_at=command.next_attempt_at,
            summary=command.summary,
            created_at=command.created_at,
            done_at=command.done_at,
        )


class RouterCommands(msgspec.Struct):
    pending: int
    commands: list[RouterCommandRead]


class RouterProvisioningController(TenantApiController):
    path = "/api/v1/routers"
    tags = ["network"]

    @get(
        "/{router_id:int}/commands",
        guards=[requires_scopes(NETWORK_READ)],
        summary="A router's provisioning commands, newest first, and how many are pending",
    )
    async def router_commands(
        self,
        tenant_session: TenantSession,
        router_id: FromPath[Id],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RouterCommands:
        await service.get_router(tenant_session, router_id)
        commands = await queue.recent_commands(
            tenant_session, router_id, limit=max(1, min(limit, 200)), offset=max(0, offset)
        )
        return RouterCommands(
            pending=await queue.pending_count(tenant_session, router_id),
            commands=[RouterCommandRead.of(command) for command in commands],
        )

    @post(
        "/{router_id:int}/sync",
        guards=[requires_scopes(NETWORK_WRITE)],
        status_code=HTTP_202_ACCEPTED,
        summary="Queue a full reconciliation of the router and try it at once",
    )
    async def sync_router(
        self,
        request: Request,
        services: Services,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> RouterCommandRead:
        command = await runner.sync_now(
            services.database,
            tenant.schema,
            tenant.slug,
            router_id,
            client_factory=client_factory(request),
        )
        return RouterCommandRead.of(command)
