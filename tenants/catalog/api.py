"""/api/v1/packages: the tenant's catalog, for API keys and console sessions."""

from __future__ import annotations

from typing import Annotated, Literal

from kiunga.platform.auth.fence import FENCED_CALLERS_ALLOWED
from kiunga.platform.web.controllers import TenantApiController, action
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id
from kiunga.tenants.catalog import service
from kiunga.tenants.catalog.schemas import PackageCreate, PackageRead, PackageUpdate
from kiunga.tenants.catalog.scopes import PACKAGES_READ, PACKAGES_WRITE
from litestar import get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

_ARCHIVED = {"active": False, "archived": True, "all": None}


class PackageController(TenantApiController):
    path = "/api/v1/packages"
    tags = ["packages"]

    @get(
        guards=[requires_scopes(PACKAGES_READ)], opt=FENCED_CALLERS_ALLOWED, summary="List packages"
    )
    async def list_packages(
        self,
        tenant_session: TenantSession,
        shown: Annotated[
            Literal["active", "archived", "all"],
            QueryParameter(name="state", description="active (on sale), archived, or all"),
        ] = "active",
    ) -> list[PackageRead]:
        packages = await service.list_packages(tenant_session, archived=_ARCHIVED[shown])
        return [PackageRead.of(package) for package in packages]

    @post(guards=[requires_scopes(PACKAGES_WRITE)], summary="Create a package")
    async def create_package(
        self, tenant_session: TenantSession, tenant: CurrentTenant, data: JSONBody[PackageCreate]
    ) -> PackageRead:
        currency = await service.tenant_currency(tenant_session, tenant.id)
        package = await service.create_package(tenant_session, data.fields(), currency=currency)
        return PackageRead.of(package)

    @get(
        "/{package_id:int}",
        guards=[requires_scopes(PACKAGES_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="Get a package",
    )
    async def get_package(
        self, tenant_session: TenantSession, package_id: FromPath[Id]
    ) -> PackageRead:
        return PackageRead.of(await service.get_package(tenant_session, package_id))

    @patch(
        "/{package_id:int}", guards=[requires_scopes(PACKAGES_WRITE)], summary="Change a package"
    )
    async def update_package(
        self,
        tenant_session: TenantSession,
        package_id: FromPath[Id],
        data: JSONBody[PackageUpdate],
    ) -> PackageRead:
        package = await service.update_package(tenant_session, package_id, data.fields())
        return PackageRead.of(package)

    @action("/{package_id:int}/archive", PACKAGES_WRITE, summary="Stop selling a package")
    async def archive(self, tenant_session: TenantSession, package_id: FromPath[Id]) -> PackageRead:
        return await _set_archived(tenant_session, package_id, True)

    @action("/{package_id:int}/unarchive", PACKAGES_WRITE, summary="Sell an archived package again")
    async def unarchive(
        self, tenant_session: TenantSession, package_id: FromPath[Id]
    ) -> PackageRead:
        return await _set_archived(tenant_session, package_id, False)


async def _set_archived(session, package_id: int, archived: bool) -> PackageRead:
    return PackageRead.of(await service.set_archived(session, package_id, archived))
