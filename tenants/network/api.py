"""/api/v1/routers: the ISP's routers. Reading needs network:read, changing network:write
(owners, admins and technicians hold it). A reseller's key is refused: routers are the
ISP's own. Passwords and shared secrets are never returned, only whether they are set."""

from __future__ import annotations

from kiunga.platform.web.controllers import TenantApiController, action
from kiunga.platform.web.dependencies import CurrentTenant, Services, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, OptionalId
from kiunga.tenants.network import service, status
from kiunga.tenants.network.schemas import (
    ConnectionCheck,
    RouterCreate,
    RouterRead,
    RouterUpdate,
)
from kiunga.tenants.network.scopes import NETWORK_READ, NETWORK_WRITE
from litestar import Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

GATEWAY_FACTORY_KEY = "network_gateway_factory"


def gateway_factory(request: Request) -> status.GatewayFactory:
    """The RouterOS client, unless the app was given another (tests, `kiunga up`)."""
    return request.app.state.get(GATEWAY_FACTORY_KEY) or status.routeros_gateway


class RouterController(TenantApiController):
    path = "/api/v1/routers"
    tags = ["network"]

    @get(guards=[requires_scopes(NETWORK_READ)], summary="List routers with their status")
    async def list_routers(
        self, tenant_session: TenantSession, site_id: FromQuery[OptionalId] = None
    ) -> list[RouterRead]:
        routers = await service.list_routers(tenant_session, site_id=site_id)
        return [RouterRead.of(router) for router in routers]

    @post(guards=[requires_scopes(NETWORK_WRITE)], summary="Add a router")
    async def create_router(
        self, tenant_session: TenantSession, tenant: CurrentTenant, data: JSONBody[RouterCreate]
    ) -> RouterRead:
        fields = {name: getattr(data, name) for name in data.__struct_fields__}
        router = await service.create_router(tenant_session, tenant.id, **fields)
        return RouterRead.of(router)

    @get("/{router_id:int}", guards=[requires_scopes(NETWORK_READ)], summary="Get a router")
    async def get_router(
        self, tenant_session: TenantSession, router_id: FromPath[Id]
    ) -> RouterRead:
        return RouterRead.of(await service.get_router(tenant_session, router_id))

    @patch("/{router_id:int}", guards=[requires_scopes(NETWORK_WRITE)], summary="Change one")
    async def update_router(
        self,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
        data: JSONBody[RouterUpdate],
    ) -> RouterRead:
        router = await service.update_router(tenant_session, tenant.id, router_id, **data.changes())
        return RouterRead.of(router)

    @delete("/{router_id:int}", guards=[requires_scopes(NETWORK_WRITE)], summary="Remove one")
    async def delete_router(
        self, tenant_session: TenantSession, tenant: CurrentTenant, router_id: FromPath[Id]
    ) -> None:
        await service.delete_router(tenant_session, tenant.id, router_id)

    @action(
        "/{router_id:int}/test-connection",
        NETWORK_WRITE,
        summary="Log in over the RouterOS API, read identity and resources, and keep them",
    )
    async def test_connection(
        self,
        request: Request,
        services: Services,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> ConnectionCheck:
        result = await status.check_router(
            services.database,
            tenant.schema,
            router_id,
            gateway_factory=gateway_factory(request),
        )
        return ConnectionCheck(result.ok, result.message, RouterRead.of(result.router))
