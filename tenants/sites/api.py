"""/api/v1/sites: the sites of the request's tenant, for API keys and console sessions."""

from __future__ import annotations

import structlog
from kiunga.platform.auth.fence import FENCED_CALLERS_ALLOWED
from kiunga.platform.web.controllers import TenantApiController
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id
from kiunga.tenants.sites import service
from kiunga.tenants.sites.schemas import SiteCreate, SiteRead, SiteUpdate
from kiunga.tenants.sites.scopes import SITES_READ, SITES_WRITE
from litestar import delete, get, patch, post
from litestar.params import FromPath, JSONBody

log = structlog.get_logger("kiunga.sites")


class SiteController(TenantApiController):
    path = "/api/v1/sites"
    tags = ["sites"]

    @get(guards=[requires_scopes(SITES_READ)], opt=FENCED_CALLERS_ALLOWED, summary="List sites")
    async def list_sites(self, tenant_session: TenantSession) -> list[SiteRead]:
        return [SiteRead.of(site) for site in await service.list_sites(tenant_session)]

    @post(guards=[requires_scopes(SITES_WRITE)], summary="Create a site")
    async def create_site(
        self, tenant_session: TenantSession, data: JSONBody[SiteCreate]
    ) -> SiteRead:
        site = await service.create_site(tenant_session, name=data.name, region=data.region)
        log.info("site created", site_id=site.id)
        return SiteRead.of(site)

    @get(
        "/{site_id:int}",
        guards=[requires_scopes(SITES_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="Get a site",
    )
    async def get_site(self, tenant_session: TenantSession, site_id: FromPath[Id]) -> SiteRead:
        return SiteRead.of(await service.get_site(tenant_session, site_id))

    @patch("/{site_id:int}", guards=[requires_scopes(SITES_WRITE)], summary="Change a site")
    async def update_site(
        self,
        tenant_session: TenantSession,
        site_id: FromPath[Id],
        data: JSONBody[SiteUpdate],
    ) -> SiteRead:
        changes = service.SiteChanges(name=data.name, region=data.region)
        site = await service.update_site(tenant_session, site_id, changes)
        return SiteRead.of(site)

    @delete("/{site_id:int}", guards=[requires_scopes(SITES_WRITE)], summary="Delete a site")
    async def delete_site(self, tenant_session: TenantSession, site_id: FromPath[Id]) -> None:
        await service.delete_site(tenant_session, site_id)
