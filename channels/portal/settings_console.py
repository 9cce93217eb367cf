"""The console's captive portal page (/settings/portal): the portal's title, welcome text,
logo, colours, support phone and language, which hotspot packages it sells, and the files
the router needs (login.html, status.html and the walled-garden lines, served by the
portal's own download routes)."""

from __future__ import annotations

from kiunga.channels.portal.settings import (
    LOOK_CACHE_STATE_KEY,
    MAX_LOGO_BYTES,
    PortalChange,
    hotspot_packages,
    portal_look,
    set_logo,
    set_packages_on_sale,
    update_portal_settings,
)
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.models import StaffRole
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import staff_only, tenant_only
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.vouchers.errors import VoucherError
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

PATH = "/settings/portal"
FIELDS = (
    "title",
    "welcome",
    "welcome_sw",
    "primary_colour",
    "accent_colour",
    "support_phone",
    "default_language",
    "hotspot_hosts",
)
ROUTER_FILES = (
    ("login.html", "login.html: sends users from the router to this portal"),
    ("status.html", "status.html: time and data left, and logging out"),
    ("alogin.html", "alogin.html: shown after logging in without a destination"),
    ("walled-garden.rsc", "Walled garden: lets users reach the portal before logging in"),
)


async def owners_and_admins(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = request_principal(connection)
    if not isinstance(principal, StaffPrincipal) or principal.role not in (
        StaffRole.OWNER,
        StaffRole.ADMIN,
    ):
        raise PermissionDeniedException("Only owners and admins change the captive portal")


def forget_cached_look(request: Request) -> None:
    cache = request.app.state.get(LOOK_CACHE_STATE_KEY)
    if cache is not None:
        cache.clear()


async def _render(
    request: Request,
    session,
    tenant,
    *,
    form: dict | None = None,
    on_sale: set[int] | None = None,
    error: VoucherError | None = None,
    saved: bool = False,
) -> Response:
    look = await portal_look(session, tenant.name)
    packages = await hotspot_packages(session)
    if form is None:
        form = {field: getattr(look, field) or "" for field in FIELDS}
        form["title"] = "" if look.title == tenant.name else look.title
    if on_sale is None:
        on_sale = {package.id for package in packages if package.sold_on_portal}
    return page(
        request,
        "portal/settings.html",
        status_code=HTTP_400_BAD_REQUEST if error else 200,
        form=form,
        look=look,
        packages=packages,
        on_sale=on_sale,
        errors={error.field: error.message} if error else {},
        saved=saved,
        router_files=ROUTER_FILES,
        max_logo_kb=MAX_LOGO_BYTES // 1024,
    )


class PortalSettingsPageController(Controller):
    path = PATH
    include_in_schema = False
    guards = [tenant_only, staff_only, owners_and_admins]

    @get()
    async def settings_page(
        self, request: Request, tenant_session: TenantSession, tenant: CurrentTenant
    ) -> Response:
        saved = request.query_params.get("saved") == "1"
        return await _render(request, tenant_session, tenant, saved=saved)

    @post()
    async def save_settings(
        self, request: Request, tenant_session: TenantSession, tenant: CurrentTenant
    ) -> Response:
        form = await request.form()
        given = {field: str(form.get(field) or "").strip() for field in FIELDS}
        on_sale = {int(v) for v in form.getall("on_sale", []) if str(v).isdigit()}
        change = PortalChange(
            title=given["title"],
            welcome=given["welcome"],
            welcome_sw=given["welcome_sw"],
            primary_colour=given["primary_colour"],
            accent_colour=given["accent_colour"],
            support_phone=given["support_phone"] or None,
            default_language=given["default_language"] or "en",
            hotspot_hosts=given["hotspot_hosts"],
        )
        upload = form.get("logo")
        try:
            await update_portal_settings(tenant_session, change)
            if isinstance(upload, UploadFile) and upload.filename:
                data = await upload.read(MAX_LOGO_BYTES + 1)
                await set_logo(tenant_session, data, upload.content_type)
            elif form.get("remove_logo") == "on":
                await set_logo(tenant_session, None, None)
            await set_packages_on_sale(tenant_session, on_sale)
        except VoucherError as error:
            await tenant_session.rollback()
            return await _render(
                request, tenant_session, tenant, form=given, on_sale=on_sale, error=error
            )
        forget_cached_look(request)
        return Redirect(f"{PATH}?saved=1", status_code=303)
