"""/api/v1/services: list, get, create (and activate), and move services through their
lifecycle. Scopes: services:read to look, services:write to act; changing a package or
activating a prepaid service on trust moves money at staff discretion and also needs
billing:write. A reseller's key sees only its own subscribers' services; others answer 404.
"""

from __future__ import annotations

import structlog
from kiunga.platform.auth.fence import fence_for, fence_of
from kiunga.platform.auth.principals import Principal
from kiunga.platform.web.controllers import FencedApiController, action
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
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.services")


def _needs_billing(principal: Principal, allow_unpaid: bool) -> None:
    if allow_unpaid and BILLING_WRITE not in principal.scopes:
        raise PermissionDeniedException(f"Missing scope: {BILLING_WRITE} (allow_unpaid)")


def _reason(data: ReasonBody | None, default: str) -> str:
    return (data.reason if data else "").strip() or default


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

    async def _act(self, session, principal, service_id, step, *args, **options) -> ServiceRead:
        """A lifecycle `step` taken on a service the caller can see, in the caller's name."""
        await _visible(session, principal, service_id)
        service = await step(session, service_id, *args, actor=actor_of(principal), **options)
        return ServiceRead.of(service)

    @action(
        "/{service_id:int}/activate",
        SERVICES_WRITE,
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
            lifecycle.activate_service,
            allow_unpaid=allow_unpaid,
        )

    @action("/{service_id:int}/suspend", SERVICES_WRITE, summary="Suspend an active service")
    async def suspend(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[ReasonBody | None] = None,
    ) -> ServiceRead:
        reason = _reason(data, "suspended by staff")
        step = lifecycle.suspend_service
        return await self._act(tenant_session, principal, service_id, step, reason=reason)

    @action("/{service_id:int}/restore", SERVICES_WRITE, summary="Lift a suspension")
    async def restore(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, service_id: FromPath[Id]
    ) -> ServiceRead:
        step = lifecycle.restore_service
        return await self._act(tenant_session, principal, service_id, step)

    @action("/{service_id:int}/terminate", SERVICES_WRITE, summary="End a service for good")
    async def terminate(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        service_id: FromPath[Id],
        data: JSONBody[ReasonBody | None] = None,
    ) -> ServiceRead:
        reason = _reason(data, "terminated by staff")
        step = lifecycle.terminate_service
        return await self._act(tenant_session, principal, service_id, step, reason=reason)

    @action(
        "/{service_id:int}/change-package",
        SERVICES_WRITE,
        BILLING_WRITE,
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
            lifecycle.change_package,
            data.package_id,
            allow_unpaid=data.allow_unpaid,
        )
