"""The console's router pages: the list with each router's status, a form to add one, and a
router's page (status, last error, "Test connection", its api-ssl certificate and "trust the
new certificate", its settings to change, remove). Owners, admins and technicians change
routers; support looks. Passwords and secrets are never put back into a page: an empty
field keeps the saved one."""

from __future__ import annotations

from urllib.parse import quote

from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, Services, TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.network import service, status
from kiunga.tenants.network.api import gateway_factory
from kiunga.tenants.network.models import API_PORT, API_TLS_PORT, COA_PORT, Router, RouterMode
from kiunga.tenants.network.provisioning.console import provisioning_context
from kiunga.tenants.network.scopes import NETWORK_READ, NETWORK_WRITE
from kiunga.tenants.sites.service import list_sites
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

TEXT_FIELDS = (
    "name", "site_id", "address", "mode", "api_port", "api_username", "radius_source_address",
    "coa_port",
)  # fmt: skip
SECRET_FIELDS = ("api_password", "radius_secret")
CHECKBOXES = ("use_tls", "require_message_authenticator")


def uptime_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


def memory_text(free: int | None, total: int | None) -> str:
    if free is None or total is None:
        return "—"
    mib = 1024 * 1024
    return f"{free // mib} MiB free of {total // mib} MiB"


def _blank_form() -> dict[str, object]:
    form: dict[str, object] = {name: "" for name in TEXT_FIELDS}
    form.update(mode=RouterMode.API.value, api_port=str(API_PORT), coa_port=str(COA_PORT))
    form.update(use_tls=False, require_message_authenticator=False)
    return form


def _router_form(router: Router) -> dict[str, object]:
    return {
        "name": router.name,
        "site_id": str(router.site_id or ""),
        "address": router.address,
        "mode": router.mode.value,
        "api_port": str(router.api_port),
        "api_username": router.api_username or "",
        "radius_source_address": router.radius_source_address or "",
        "coa_port": str(router.coa_port),
        "use_tls": router.use_tls,
        "require_message_authenticator": router.require_message_authenticator,
    }


async def _posted(request: Request) -> tuple[dict[str, object], dict[str, object]]:
    """The form as typed (to show again) and the fields for the service."""
    data = await request.form()
    form: dict[str, object] = {name: str(data.get(name, "")).strip() for name in TEXT_FIELDS}
    for name in CHECKBOXES:
        form[name] = name in data
    fields = dict(form)
    if (fields["api_port"], form["use_tls"]) in ((str(API_PORT), True), (str(API_TLS_PORT), False)):
        # The other mode's default port left in the field: the port follows the TLS box.
        fields["api_port"] = ""
    for name in SECRET_FIELDS:
        fields[name] = str(data.get(name, "")) or None  # empty keeps the saved one
    return form, fields


async def _render(request, session, template: str, *, status_code: int = 200, **context):
    return page(
        request,
        template,
        status_code=status_code,
        sites=await list_sites(session),
        modes=[mode.value for mode in RouterMode],
        can_write=NETWORK_WRITE in request.user.scopes,
        uptime_text=uptime_text,
        memory_text=memory_text,
        radius_source_address=service.radius_source_address,
        notice=request.query_params.get("notice"),
        **context,
    )


async def _load(session, router_id: int) -> Router:
    return await service.get_router(session, router_id)


class RoutersPageController(Controller):
    path = "/routers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(NETWORK_READ)]

    @get()
    async def routers_page(self, request: Request, tenant_session: TenantSession) -> Response:
        routers = await service.list_routers(tenant_session)
        return await _render(request, tenant_session, "network/index.html", routers=routers)

    @get("/new", guards=[requires_scopes(NETWORK_WRITE)])
    async def new_router(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render(
            request, tenant_session, "network/form.html", router=None, form=_blank_form(), errors={}
        )

    @post(guards=[requires_scopes(NETWORK_WRITE)])
    async def add_router(
        self, request: Request, tenant_session: TenantSession, tenant: CurrentTenant
    ) -> Response:
        form, fields = await _posted(request)
        try:
            router = await service.create_router(tenant_session, tenant.id, **fields)
        except service.RouterError as exc:
            return await _render(
                request,
                tenant_session,
                "network/form.html",
                status_code=exc.status_code,
                router=None,
                form=form,
                errors=exc.form_errors(),
            )
        return Redirect(f"/routers/{router.id}?notice=Router+added", status_code=303)

    @get("/{router_id:int}")
    async def router_page(
        self, request: Request, tenant_session: TenantSession, router_id: FromPath[Id]
    ) -> Response:
        router = await _load(tenant_session, router_id)
        return await _render(
            request,
            tenant_session,
            "network/detail.html",
            router=router,
            form=_router_form(router),
            errors={},
            **await provisioning_context(tenant_session, router_id),
        )

    @post("/{router_id:int}", guards=[requires_scopes(NETWORK_WRITE)])
    async def save_router(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> Response:
        await _load(tenant_session, router_id)
        form, fields = await _posted(request)
        try:
            await service.update_router(tenant_session, tenant.id, router_id, **fields)
        except service.RouterError as exc:
            router = await _load(tenant_session, router_id)
            return await _render(
                request,
                tenant_session,
                "network/detail.html",
                status_code=exc.status_code,
                router=router,
                form=form,
                errors=exc.form_errors(),
                **await provisioning_context(tenant_session, router_id),
            )
        return Redirect(f"/routers/{router_id}?notice=Saved", status_code=303)

    @post("/{router_id:int}/test-connection", guards=[requires_scopes(NETWORK_WRITE)])
    async def test_connection(
        self,
        request: Request,
        services: Services,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> Response:
        try:
            result = await status.check_router(
                services.database,
                tenant.schema,
                router_id,
                gateway_factory=gateway_factory(request),
            )
            notice = result.message
        except service.RouterError as exc:
            notice = f"Not connected: {exc.message}"
        return Redirect(f"/routers/{router_id}?notice={quote(notice)}", status_code=303)

    @post("/{router_id:int}/trust-certificate", guards=[requires_scopes(NETWORK_WRITE)])
    async def trust_certificate(
        self, request: Request, tenant_session: TenantSession, router_id: FromPath[int]
    ) -> Response:
        """Staff trust the certificate the router was refused for (the one they were shown)."""
        await _load(tenant_session, router_id)
        fingerprint = str((await request.form()).get("fingerprint", ""))
        try:
            await service.trust_certificate(tenant_session, router_id, fingerprint)
        except service.RouterError as exc:
            return Redirect(f"/routers/{router_id}?notice={quote(exc.message)}", status_code=303)
        notice = "The new certificate is trusted: test the connection again"
        return Redirect(f"/routers/{router_id}?notice={quote(notice)}", status_code=303)

    @post("/{router_id:int}/delete", guards=[requires_scopes(NETWORK_WRITE)])
    async def remove_router(
        self,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        router_id: FromPath[Id],
    ) -> Response:
        await service.delete_router(tenant_session, tenant.id, router_id)
        return Redirect("/routers?notice=Router+removed", status_code=303)
