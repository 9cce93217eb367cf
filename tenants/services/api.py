"""/api/v1/services: list, get, create (and activate), and move services through their
lifecycle. Scopes: services:read to look, services:write to act; changing a package or
activating a prepaid service on trust moves money at staff discretion and also needs
billing:write. A reseller's key sees only its own subscribers' services; others answer 404.
"""

from __future__ import annotations

import structlog
from kiunga.platform.auth.fence import fence_for, fence_of
from kiunga.platform.auth.principals import Principal
from kiunga.platform.web.controllers import FencedApiController
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, Limit, Offset, OptionalId, OptionalText
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.billing.scopes import BILLING_WRITE
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.schemas import (
    ActivateBody,
    PackageChange,
    ReasonBody,
    ServiceCreate,
    ServicePage,
    ServiceRead,
)
from kiunga.tenants.services.scopes import SERVICES_READ, SERVICES_WRITE
from kiunga.tenants.services.service import NewService, ServiceFilter, create_service, list_services
from kiunga.tenants.subscribers.fence import inside_fence
from litestar import get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.services")


def _needs_billing(principal: Principal, allow_unpaid: bool) -> None:
    if allow_unpaid and BILLING_WRITE not in principal.scopes:
        raise PermissionDeniedException(f"Missing scope: {BILLING_WRITE} (allow_unpaid)")


async def _visible(session: AsyncSession, principal: Principal, service_id: int) -> Service:
    service = await session.get(Service, service_id)
    if service is not None and not await inside_fence(
        session, fence_for(principal), service.subscriber_id
    ):
        service = None
    if service is None:
        raise NotFoundException(f"no service with id {service_id}")
    return service


class ServiceController(FencedApiController):
    path = "/api/v1/services"
    tags = ["services"]

    @get(guards=[requires_scopes(SERVICES_READ)], summary="List services")
    async def list_services(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromQuery[OptionalId] = None,
        status: FromQuery[ServiceStatus | None] = None,
        package_id: FromQuery[OptionalId] = None,
        username: FromQuery[OptionalText] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ServicePage:
        where = ServiceFilter(
            subscriber_id=subscriber_id,
            status=status,
            package_id=package_id,
            username=username,
            reseller_id=fence_of(principal),
        )
        rows, total = await list_services(tenant_session, where, limit=limit, offset=offset)
        return ServicePage(
            items=[ServiceRead.of(s) for s in rows], total=total, limit=limit, offset=offset
        )

    @get("/{service_id:int}", guards=[requires_scopes(SERVICES_READ)], summary="Get a service")
    async def get_service(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, service_id: FromPath[Id]
    ) -> ServiceRead:
        return ServiceRead.of(await _visible(tenant_session, principal, service_id))

    @post(
        guards=[requires_scopes(SERVICES_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Create a service and activate it (billing its first period)",
        description="A prepaid service whose first period the credit does not cover is "
        "created `pending`, and activated by the payment that covers it.",
    )
    async def create(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[ServiceCreate],
    ) -> ServiceRead:
        _needs_billing(principal, data.allow_unpaid)
        if not await inside_fence(tenant_session, fence_for(principal), data.subscriber_id):
            raise FieldError(
                "subscriber_id", f"no subscriber with id {data.subscriber_id}", status_code=404
            )
        new = NewService(
            subscriber_id=data.subscriber_id,
            package_id=data.package_id,
            username=data.username,
            password=data.password,
            mac_address=data.mac_address,
            static_ip=data.static_ip,
            auto_renew=data.auto_renew,
        )
        service = await create_service(
            tenant_session,
            new,
            actor=actor_of(principal),
            activate=data.activate,
            allow_unpaid=data.allow_unpaid,
        )
        log.info("service created", service_id=service.id, status=str(service.status))
        return ServiceRead.of(service)

    async def _act(self, session, principal, service_id, action) -> ServiceRead:
        await _visible(session, principal, service_id)
        service = await action(actor_of(principal))
        return ServiceRead.of(service)

    @post(
        "/{service_id:int}/activate",
        guards=[requires_scopes(SERVICES_WRITE)],
        status_code=HTTP_200_OK,
        summary="Activate a pending or expired service",
    )
    async def activate(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[ActivateBody | None] = None,
    ) -> ServiceRead:
        allow_unpaid = data.allow_unpaid if data else False
        _needs_billing(principal, allow_unpaid)
        return await self._act(
            tenant_session,
            principal,
            service_id,
            lambda actor: lifecycle.activate_service(
                tenant_session, service_id, actor=actor, allow_unpaid=allow_unpaid
            ),
        )

    @post(
        "/{service_id:int}/suspend",
        guards=[requires_scopes(SERVICES_WRITE)],
        status_code=HTTP_200_OK,
        summary="Suspend an active service",
    )
    async def suspend(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[ReasonBody | None] = None,
    ) -> ServiceRead:
        reason = (data.reason if data else "").strip() or "suspended by staff"
        return await self._act(
            tenant_session,
            principal,
            service_id,
            lambda actor: lifecycle.suspend_service(
                tenant_session, service_id, reason=reason, actor=actor
            ),
        )

    @post(
        "/{service_id:int}/restore",
        guards=[requires_scopes(SERVICES_WRITE)],
        status_code=HTTP_200_OK,
        summary="Lift a suspension",
    )
    async def restore(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, service_id: FromPath[Id]
    ) -> ServiceRead:
        return await self._act(
            tenant_session,
            principal,
            service_id,
            lambda actor: lifecycle.restore_service(tenant_session, service_id, actor=actor),
        )

    @post(
        "/{service_id:int}/terminate",
        guards=[requires_scopes(SERVICES_WRITE)],
        status_code=HTTP_200_OK,
        summary="End a service for good",
    )
    async def terminate(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[ReasonBody | None] = None,
    ) -> ServiceRead:
        reason = (data.reason if data else "").strip() or "terminated by staff"
        return await self._act(
            tenant_session,
            principal,
            service_id,
            lambda actor: lifecycle.terminate_service(
                tenant_session, service_id, reason=reason, actor=actor
            ),
        )

    @post(
        "/{service_id:int}/change-package",
        guards=[requires_scopes(SERVICES_WRITE, BILLING_WRITE)],
        status_code=HTTP_200_OK,
        summary="Move to another package for the rest of the period (prorated)",
    )
    async def change(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[PackageChange],
    ) -> ServiceRead:
        return await self._act(
            tenant_session,
            principal,
            service_id,
            lambda actor: lifecycle.change_package(
                tenant_session,
                service_id,
                data.package_id,
                actor=actor,
                allow_unpaid=data.allow_unpaid,
            ),
        )
