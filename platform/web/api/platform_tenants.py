"""/platform/api/tenants: creating, listing and disabling ISPs, for platform keys and
platform admins, on the bare base domain only."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import anyio
import msgspec
from kiunga.platform.auth.scopes import PLATFORM_TENANTS
from kiunga.platform.models import Tenant, TenantStatus
from kiunga.platform.tenant_admin import (
    create_tenant,
    set_tenant_status,
)
from kiunga.platform.web.dependencies import PlatformSession, Services
from kiunga.platform.web.guards import platform_only, requires_scopes
from kiunga.platform.web.inputs import Text
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from sqlalchemy import select


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Text
    name: Text
    owner_email: Text
    owner_password: Text | None = None


class TenantCreated(msgspec.Struct):
    id: int
    slug: str
    name: str
    schema: str
    host: str
    owner_email: str
    # Present only when the owner account was made with a generated password: shown once.
    owner_password: str | None


class TenantRead(msgspec.Struct):
    id: int
    slug: str
    name: str
    schema: str
    status: str
    hosts: list[str]
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantRead:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            schema=tenant.schema_name,
            status=TenantStatus(tenant.status).value,
            hosts=sorted(domain.host for domain in tenant.domains),
            created_at=tenant.created_at,
            disabled_at=tenant.disabled_at,
        )


class PlatformTenantController(Controller):
    path = "/platform/api/tenants"
    tags = ["platform"]
    guards = [platform_only, requires_scopes(PLATFORM_TENANTS)]
    security = [{"BearerAuth": []}]

    @post(summary="Create a tenant (an ISP), its schema and its owner account")
    async def create(self, services: Services, data: JSONBody[TenantCreate]) -> TenantCreated:
        create = partial(
            create_tenant,
            services.sync_engine,
            slug=data.slug,
            name=data.name,
            owner_email=data.owner_email,
            owner_password=data.owner_password,
            base_domain=services.settings.base_domain,
        )
        # Creating the schema and migrating it is synchronous work: keep it off the loop.
        created = await anyio.to_thread.run_sync(create)
        services.forget_tenants()
        return TenantCreated(**{f: getattr(created, f) for f in TenantCreated.__struct_fields__})

    @get(summary="List tenants")
    async def list_tenants(self, platform_session: PlatformSession) -> list[TenantRead]:
        tenants = await platform_session.scalars(select(Tenant).order_by(Tenant.slug))
        return [TenantRead.of(tenant) for tenant in tenants]

    @post("/{slug:str}/disable", status_code=200, summary="Disable a tenant")
    async def disable(
        self,
        services: Services,
        platform_session: PlatformSession,
        slug: FromPath[Text],
    ) -> TenantRead:
        return await self._set_status(services, platform_session, slug, TenantStatus.DISABLED)

    @post("/{slug:str}/enable", status_code=200, summary="Enable a disabled tenant")
    async def enable(
        self,
        services: Services,
        platform_session: PlatformSession,
        slug: FromPath[Text],
    ) -> TenantRead:
        return await self._set_status(services, platform_session, slug, TenantStatus.ACTIVE)

    @staticmethod
    async def _set_status(services, platform_session, slug, status) -> TenantRead:
        change = partial(set_tenant_status, services.sync_engine, slug, status)
        await anyio.to_thread.run_sync(change)
        services.forget_tenants()
        tenant = await platform_session.scalar(select(Tenant).where(Tenant.slug == slug))
        return TenantRead.of(tenant)
