"""The platform admin console on the bare base domain: every ISP, and a form adding one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from urllib.parse import quote

import anyio
from kiunga.platform.auth.scopes import PLATFORM_TENANTS
from kiunga.platform.models import Tenant, TenantStatus
from kiunga.platform.radius_routes import list_claimed_addresses, release_address
from kiunga.platform.tenant_admin import (
    TenantError,
    TenantExists,
    create_tenant,
    set_tenant_status,
)
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import PlatformSession, Services
from kiunga.platform.web.guards import platform_only, requires_scopes, staff_only
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_201_CREATED, HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT
from sqlalchemy import select


@dataclass
class NewTenantForm:
    slug: str = ""
    name: str = ""
    owner_email: str = ""


async def _tenants(platform_session: PlatformSession) -> list[Tenant]:
    return list(await platform_session.scalars(select(Tenant).order_by(Tenant.slug)))


class PlatformConsoleController(Controller):
    path = "/platform"
    include_in_schema = False
    guards = [platform_only, staff_only, requires_scopes(PLATFORM_TENANTS)]

    @get()
    async def tenants_page(self, request: Request, platform_session: PlatformSession) -> Response:
        return page(
            request,
            "platform_tenants.html",
            tenants=await _tenants(platform_session),
            form=NewTenantForm(),
            errors={},
            created=None,
        )

    @post("/tenants")
    async def create(
        self,
        request: Request,
        services: Services,
        platform_session: PlatformSession,
        data: URLEncodedBody[NewTenantForm],
    ) -> Response:
        settings = services.settings
        create = partial(
            create_tenant,
            services.sync_engine,
            slug=data.slug.strip(),
            name=data.name,
            owner_email=data.owner_email,
            base_domain=settings.base_domain,
        )
        errors: dict[str, str] = {}
        created = None
        status_code = HTTP_201_CREATED
        try:
            created = await anyio.to_thread.run_sync(create)
        except TenantError as exc:
            errors[exc.field] = exc.message
            duplicate = isinstance(exc, TenantExists)
            status_code = HTTP_409_CONFLICT if duplicate else HTTP_400_BAD_REQUEST
        else:
            services.forget_tenants()
        return page(
            request,
            "platform_tenants.html",
            status_code=status_code,
            tenants=await _tenants(platform_session),
            form=data if errors else NewTenantForm(),
            errors=errors,
            created=created,
        )

    @post("/tenants/{slug:str}/{action:str}")
    async def change_status(
        self, services: Services, slug: FromPath[str], action: FromPath[str]
    ) -> Redirect:
        statuses = {"disable": TenantStatus.DISABLED, "enable": TenantStatus.ACTIVE}
        if action not in statuses:
            raise NotFoundException("Not found")
        change = partial(set_tenant_status, services.sync_engine, slug, statuses[action])
        await anyio.to_thread.run_sync(change)
        services.forget_tenants()
        return Redirect("/platform", status_code=303)


class RadiusClientsPageController(Controller):
    """Which ISP's router holds each RADIUS source address, and releasing one in dispute."""

    path = "/platform/radius-clients"
    include_in_schema = False
    guards = [platform_only, staff_only, requires_scopes(PLATFORM_TENANTS)]

    @get()
    async def claimed_page(
        self, request: Request, platform_session: PlatformSession, released: FromQuery[str] = ""
    ) -> Response:
        return page(
            request,
            "platform_radius_clients.html",
            claimed=await list_claimed_addresses(platform_session),
            released=released[:45],
        )

    @post("/{address:str}/release")
    async def release(self, platform_session: PlatformSession, address: FromPath[str]) -> Redirect:
        if not await release_address(platform_session, address):
            raise NotFoundException("Not found")
        await platform_session.commit()
        return Redirect(f"/platform/radius-clients?released={quote(address)}", status_code=303)
