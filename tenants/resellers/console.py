"""The console's reseller pages: a searchable list with each reseller's subscriber count,
a form to add one and a form to change one. Owners and admins only."""

from __future__ import annotations

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.pagination import requested_page
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.resellers import service
from kiunga.tenants.resellers.api import MANAGING_ROLES
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_READ, SUBSCRIBERS_WRITE
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect

PAGE_SIZE = 50


async def owners_and_admins(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = request_principal(connection)
    if not isinstance(principal, StaffPrincipal) or principal.role not in MANAGING_ROLES:
        raise PermissionDeniedException("Only owners and admins manage resellers")


def _form(request: Request, *, reseller=None, form, errors=None, status_code=200) -> Response:
    return page(
        request,
        "resellers/form.html",
        status_code=status_code,
        reseller=reseller,
        form=form,
        errors=errors or {},
    )


async def _load(session, reseller_id: int):
    return await service.get_reseller(session, reseller_id)


class ResellersPageController(Controller):
    path = "/resellers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SUBSCRIBERS_READ), owners_and_admins]

    @get()
    async def resellers_page(self, request: Request, tenant_session: TenantSession) -> Response:
        q = (request.query_params.get("q") or "").strip()
        pages = requested_page(request, PAGE_SIZE, keep={"q": q}, path="/resellers")
        rows, total = await service.list_resellers(
            tenant_session, q=q, limit=pages.limit, offset=pages.offset
        )
        return page(
            request,
            "resellers/index.html",
            rows=rows,
            total=total,
            q=q,
            pages=pages.counted(total),
            can_write=SUBSCRIBERS_WRITE in request.user.scopes,
        )

    @get("/new", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def new_reseller(self, request: Request) -> Response:
        return _form(request, form={"name": "", "phone": ""})

    @post(guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def add_reseller(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        given = {"name": form.get("name", ""), "phone": form.get("phone", "")}
        try:
            await service.create_reseller(tenant_session, **given)
        except service.ResellerError as exc:
            return _form(
                request,
                form=given,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        return Redirect("/resellers", status_code=303)

    @get("/{reseller_id:int}/edit", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def edit_reseller(
        self, request: Request, tenant_session: TenantSession, reseller_id: FromPath[Id]
    ) -> Response:
        reseller = await _load(tenant_session, reseller_id)
        form = {"name": reseller.name, "phone": reseller.phone or ""}
        return _form(request, reseller=reseller, form=form)

    @post("/{reseller_id:int}/edit", guards=[requires_scopes(SUBSCRIBERS_WRITE)])
    async def save_reseller(
        self, request: Request, tenant_session: TenantSession, reseller_id: FromPath[Id]
    ) -> Response:
        reseller = await _load(tenant_session, reseller_id)
        form = await request.form()
        given = {"name": form.get("name", ""), "phone": form.get("phone", "")}
        try:
            await service.update_reseller(tenant_session, reseller.id, **given)
        except service.ResellerError as exc:
            return _form(
                request,
                reseller=reseller,
                form=given,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        return Redirect("/resellers", status_code=303)
