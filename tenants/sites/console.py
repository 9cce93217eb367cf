"""The console's sites page: list, add and remove sites; htmx swaps just the section."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.sites import service
from kiunga.tenants.sites.scopes import SITES_READ, SITES_WRITE
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody


@dataclass
class SiteForm:
    name: str = ""
    region: str = ""


async def _render(request, session, *, form=None, errors=None, status_code=200) -> Response:
    principal = request.user
    can_write = isinstance(principal, StaffPrincipal) and SITES_WRITE in principal.scopes
    # An htmx request wants the section only; a plain request (no JavaScript) the page.
    template = "sites/_section.html" if request.headers.get("hx-request") else "sites/index.html"
    return page(
        request,
        template,
        status_code=status_code,
        sites=await service.list_sites(session),
        form=form or SiteForm(),
        errors=errors or {},
        can_write=can_write,
    )


class SitesPageController(Controller):
    path = "/sites"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SITES_READ)]

    @get()
    async def sites_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render(request, tenant_session)

    @post(guards=[requires_scopes(SITES_WRITE)])
    async def add_site(
        self,
        request: Request,
        tenant_session: TenantSession,
        data: URLEncodedBody[SiteForm],
    ) -> Response:
        try:
            await service.create_site(tenant_session, name=data.name, region=data.region)
        except service.SiteError as exc:
            return await _render(
                request,
                tenant_session,
                form=data,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        return await _render(request, tenant_session, status_code=201)

    @post("/{site_id:int}/delete", guards=[requires_scopes(SITES_WRITE)])
    async def remove_site(
        self,
        request: Request,
        tenant_session: TenantSession,
        site_id: FromPath[Id],
    ) -> Response:
        await service.delete_site(tenant_session, site_id)
        return await _render(request, tenant_session)
