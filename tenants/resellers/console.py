"""The console's reseller pages: a searchable list with each reseller's subscriber count,
a form to add one and a form to change one. Owners and admins only."""

from __future__ import annotations

from urllib.parse import urlencode

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.resellers import service
from kiunga.tenants.resellers.api import MANAGING_ROLES
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_READ, SUBSCRIBERS_WRITE
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

PAGE_SIZE = 50
MAX_PAGE = 100_000


def owners_and_admins(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = request_principal(connection)
    if not isinstance(principal, StaffPrincipal) or principal.role not in MANAGING_ROLES:
        raise PermissionDeniedException("Only owners and admins manage resellers")


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return min(max(int(raw), 1), MAX_PAGE) if raw.isdigit() and len(raw) < 10 else 1


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
    try:
        return await service.get_reseller(session, reseller_id)
    except service.ResellerNotFound as exc:
        raise NotFoundException(str(exc)) from exc


class ResellersPageController(Controller):
    path = "/resellers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SUBSCRIBERS_READ), owners_and_admins]

    @get()
    async def resellers_page(self, request: Request, tenant_session: TenantSession) -> Response:
        q = (request.query_params.get("q") or "").strip()
        number = _page_number(request)
        rows, total = await service.list_resellers(
            tenant_session, q=q, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
        query = {"q": q} if q else {}
        return page(
            request,
            "resellers/index.html",
            rows=rows,
            total=total,
            q=q,
            page_number=number,
            page_size=PAGE_SIZE,
            page_link=lambda n: "/resellers?" + urlencode({**query, "page": n}),
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
                errors={exc.field: exc.message},
                status_code=HTTP_400_BAD_REQUEST,
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
                errors={exc.field: exc.message},
                status_code=HTTP_400_BAD_REQUEST,
            )
        return Redirect("/resellers", status_code=303)
