"""The captive portal's pages, on the ISP's own host under /portal/.

    router's login.html ──POST /portal/login──▶ landing (redeem a code, packages on sale)
    POST /portal/redeem ──▶ a page that posts username and password to the router
    GET/POST /portal/buy ──▶ STK push ──▶ /portal/wait/{token} (polls) ──▶ login as above
    GET /portal/status ◀── the router's status.html (time and data left, log out)

No session, no console CSRF: a hotspot user is nobody's account. The router's parameters
travel in a signed token (see state.py); the portal's own forms carry a token matched to
a cookie of their own. Every refusal of a code takes at least REFUSAL_FLOOR_SECONDS from
the request's start, so that how long an answer takes says nothing about the code.
"""

from __future__ import annotations

import asyncio
import time

from kiunga.channels.portal.console_files import router_file
from kiunga.channels.portal.pages import (
    NO_STORE,
    Page,
    buy_throttle,
    limited_page,
    load_shop,
    package_card,
    portal_signer,
    price_text,
    redeem_throttle,
)
from kiunga.channels.portal.purchases import portal_phone, purchase_view, start_purchase
from kiunga.channels.portal.ratelimit import REDEMPTIONS
from kiunga.channels.portal.settings import portal_logo, portal_look
from kiunga.channels.portal.state import RouterState, router_url
from kiunga.platform.db.base import utcnow
from kiunga.platform.web.dependencies import CurrentTenant, Services
from kiunga.platform.web.request_state import STARTED_AT
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.services.service import router_mac
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.redeem import RedeemRefused, redeem_voucher
from kiunga.tenants.vouchers.usage import voucher_usage
from litestar import Controller, MediaType, Request, Response, get, post, route
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

PORTAL_OPT = {"skip_session": True, "exclude_from_csrf": True}
REFUSAL_FLOOR_SECONDS = 0.3
REFUSALS = {"unknown", "expired", "used_up", "revoked", "other_device"}


async def _pad(request: Request) -> None:
    """Wait until REFUSAL_FLOOR_SECONDS have passed since the request began."""
    started = request.scope.get("state", {}).get(STARTED_AT) or time.perf_counter()
    remaining = REFUSAL_FLOOR_SECONDS - (time.perf_counter() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _page(request: Request, services: WebServices, tenant: TenantContext, values) -> Page:
    return Page(request, tenant, await load_shop(request, services, tenant), values)


class PortalController(Controller):
    path = "/portal"
    include_in_schema = False
    opt = PORTAL_OPT

    @get("/")
    async def landing(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        page = await _page(request, services, tenant, request.query_params)
        code = (request.query_params.get("code") or "").strip()[:40]
        return page.landing(code=code)

    @route("/login", http_method=["GET", "POST"], status_code=200)
    async def router_login(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        """Where the router's login.html sends the user, with its parameters."""
        values = await request.form() if request.method == "POST" else request.query_params
        page = await _page(request, services, tenant, values)
        state = page.own_state(RouterState.from_router(values))
        if state is not None:
            page.state = state
            page.rs = portal_signer(request).dump_state(tenant.id, state)
        router_error = (values.get("error") or "").strip()[:200] if state else ""
        code = (values.get("username") or "").strip()[:40] if state else ""
        return page.landing(router_error=router_error, code=code)

    @post("/redeem", status_code=200)
    async def redeem(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        page = await _page(request, services, tenant, form)
        t = page.t
        code = (form.get("code") or "").strip()[:40]
        if not page.form_valid(form):
            return page.landing(code=code, message=t("form_expired"), status_code=400)
        if not code:
            return page.landing(message=t("code_missing"), status_code=400)
        state = page.state
        source = _client_address(request)
        # The router's word for the device (MAC, hotspot address) can be forged by anyone
        # who posts to /portal/login, so the address the request came from is limited too.
        mac = state.mac if state else None
        device_ip = f"{source}/{state.ip}" if state and state.ip else source
        throttle = redeem_throttle(services)
        # Counted before the code is looked at, so that concurrent guesses cannot all be.
        limited = await throttle.take(tenant.id, mac, device_ip, source)
        if limited is not None:
            REDEMPTIONS.labels(outcome="rate_limited").inc()
            await _pad(request)
            return limited_page(page, limited)
        if state is None:
            return await _check_only(request, page, services, tenant, code, mac, device_ip)
        try:
            async with services.database.tenant_session(tenant.schema) as session:
                async with session.begin():
                    redeemed = await redeem_voucher(session, code, mac=mac, ip=state.ip)
        except (RedeemRefused, VoucherError) as refusal:
            reason = getattr(refusal, "reason", "unknown")
            return await _refuse(request, page, code, reason)
        await throttle.succeeded(tenant.id, mac, device_ip, source)
        REDEMPTIONS.labels(outcome="ok").inc()
        return page.login(
            redeemed.code, redeemed.password, show_code=False, expires_at=redeemed.expires_at
        )

    @get("/buy")
    async def buy_form(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        page = await _page(request, services, tenant, request.query_params)
        card = package_card(page, request.query_params.get("package"))
        if page.state is None or card is None:
            return page.landing()
        return page.render(
            "buy.html",
            toggle_path="/portal/buy",
            toggle_extra={"package": card.id},
            package=card,
            phone="",
            message="",
            back_url=page.landing_url,
        )

    @post("/buy", status_code=200)
    async def buy(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        page = await _page(request, services, tenant, form)
        t = page.t
        card = package_card(page, form.get("package"))
        if page.state is None or card is None:
            return page.landing(message=t("package_unavailable") if page.state else "")
        phone = (form.get("phone") or "").strip()[:20]

        def again(message: str) -> Response:
            return page.render(
                "buy.html",
                status_code=400,
                toggle_path="/portal/buy",
                toggle_extra={"package": card.id},
                package=card,
                phone=phone,
                message=message,
                back_url=page.landing_url,
            )

        if not page.form_valid(form):
            return again(t("form_expired"))
        state = page.state
        try:
            buyer_phone = portal_phone(phone)
        except VoucherError:
            return again(t("bad_phone"))
        # Counted before the prompt is sent (anyone can forge a device or name any phone).
        throttle = buy_throttle(services)
        source = _client_address(request)
        device = state.mac or f"{source}/{state.ip or ''}"
        keys = throttle.keys(source, device, buyer_phone)
        limited = await throttle.take(tenant.id, keys)
        if limited is not None:
            minutes = -(-limited.retry_after // 60)
            return limited_page(page, limited, t("buy_limited", minutes=minutes))
        try:
            purchase = await start_purchase(
                services.database,
                tenant.schema,
                package_id=card.id,
                phone=buyer_phone,
                mac=state.mac,
                ip=state.ip,
                language=page.lang,
            )
        except VoucherError as error:
            await throttle.not_sent(tenant.id, keys)
            if error.field == "phone":
                return again(t("prompt_open") if error.status_code == 409 else t("bad_phone"))
            return again(t("package_unavailable"))
        except MpesaError:  # not set up, refused, or not answering (MpesaUnavailable)
            return again(t("mpesa_unavailable"))
        return Redirect(page.url(f"/portal/wait/{purchase.token}"), status_code=303)

    @get("/purchase/{token:str}")
    async def purchase_status(
        self, request: Request, tenant: CurrentTenant, services: Services, token: FromPath[str]
    ) -> Response:
        """What the waiting page polls: only whether the payment is still pending."""
        async with services.database.tenant_session(tenant.schema) as session:
            view = await purchase_view(session, token)
        if view is None:
            raise NotFoundException("No such purchase")
        return Response({"status": view.status}, media_type=MediaType.JSON, headers=NO_STORE)

    @get("/wait/{token:str}")
    async def wait(
        self, request: Request, tenant: CurrentTenant, services: Services, token: FromPath[str]
    ) -> Response:
        page = await _page(request, services, tenant, request.query_params)
        t = page.t
        async with services.database.tenant_session(tenant.schema) as session:
            view = await purchase_view(session, token)
        toggle = {"toggle_path": f"/portal/wait/{token}"}
        if view is None:
            return page.render(
                "failed.html", message=t("purchase_unknown"), back_url=page.landing_url, **toggle
            )
        reason = view.failure_reason
        if view.status == "pending" and view.pending_until and utcnow() > view.pending_until:
            reason = "timeout"  # the prompt has closed: stop waiting
        if view.status == "failed" or reason == "timeout":
            key = f"failure_{reason}"
            words = t(key) if t.has(key) else (view.failure or t("failure_failed"))
            return page.render(
                "failed.html",
                message=t("payment_failed", reason=words),
                back_url=page.landing_url,
                **toggle,
            )
        if view.status == "paid" and view.code:
            if page.state is None:
                async with services.database.tenant_session(tenant.schema) as session:
                    usage = await voucher_usage(session, view.code)
                if usage is not None:
                    return page.usage(view.code, usage)
                return page.landing(code=view.code)
            return page.login(view.code, view.code, show_code=True, expires_at=view.expires_at)
        return page.render(
            "wait.html",
            view=view,
            package_name=page.package_name(view.package_name),
            price_text=price_text(view.amount, view.currency),
            poll_url=f"/portal/purchase/{token}",
            **toggle,
        )

    @get("/status")
    async def status(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        """The router's status.html brings the user here with their login and log-out link."""
        params = request.query_params
        page = await _page(request, services, tenant, params)
        code = (params.get("username") or "").strip()[:40]
        if not code:
            return page.landing()
        # A status page answers for any code it is given: guessing through it is limited
        # and padded like redeeming.
        source = _client_address(request)
        mac = router_mac(params.get("mac"))
        ip = (params.get("ip") or "").strip()[:45]
        device_ip = f"{source}/{ip}" if ip else source
        throttle = redeem_throttle(services)
        limited = await throttle.take(tenant.id, mac, device_ip, source)
        if limited is not None:
            await _pad(request)
            return limited_page(page, limited)
        async with services.database.tenant_session(tenant.schema) as session:
            usage = await voucher_usage(session, code)
        if usage is None:
            await _pad(request)
        else:
            await throttle.succeeded(tenant.id, mac, device_ip, source)
        logout_url = page.own_url(router_url(params.get("link-logout")))
        return page.usage(code, usage, logout_url=logout_url, online=True)

    @get("/router/{name:str}")
    async def router_files(
        self, request: Request, tenant: CurrentTenant, services: Services, name: FromPath[str]
    ) -> Response:
        """The router's hotspot pages and walled-garden lines, public (they hold nothing but
        the portal's address) so that a router can fetch them itself, e.g. `/tool fetch
        url=https://<ISP host>/portal/router/login.html dst-path=hotspot/login.html`."""
        async with services.database.tenant_session(tenant.schema) as session:
            look = await portal_look(session, tenant.name)
        return await router_file(request, services, look, name)

    @get("/logo")
    async def logo(self, tenant: CurrentTenant, services: Services) -> Response:
        async with services.database.tenant_session(tenant.schema) as session:
            found = await portal_logo(session)
        if found is None:
            raise NotFoundException("No logo")
        data, content_type = found
        return Response(
            data,
            media_type=content_type,
            headers={
                "cache-control": "public, max-age=86400",
                # An SVG opened on its own must not run anything.
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            },
        )


async def _refuse(request: Request, page: Page, code: str, reason: str) -> Response:
    """A refused code (its attempt stays counted)."""
    reason = reason if reason in REFUSALS else "other"
    REDEMPTIONS.labels(outcome=reason).inc()
    await _pad(request)
    return page.landing(code=code, message=page.t(f"refused_{reason}"), status_code=400)


async def _check_only(
    request: Request,
    page: Page,
    services: WebServices,
    tenant: TenantContext,
    code: str,
    mac: str | None,
    device_ip: str | None,
) -> Response:
    """Without the router's parameters nothing can be logged in: show the code's state."""
    async with services.database.tenant_session(tenant.schema) as session:
        usage = await voucher_usage(session, code)
    if usage is None:
        return await _refuse(request, page, code, "unknown")
    await redeem_throttle(services).succeeded(tenant.id, mac, device_ip, _client_address(request))
    REDEMPTIONS.labels(outcome="checked").inc()
    await _pad(request)
    return page.usage(code, usage)
