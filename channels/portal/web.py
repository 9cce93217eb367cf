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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
from kiunga.channels.portal.chap import chap_response
from kiunga.channels.portal.i18n import (
    LANGUAGE_NAMES,
    STRINGS,
    Translator,
    data_amount,
    pick_language,
)
from kiunga.channels.portal.ratelimit import REDEMPTIONS, Limited, RedeemThrottle
from kiunga.channels.portal.state import (
    RouterState,
    Signer,
    new_nonce,
    normalise_mac,
    router_url,
)
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.db.base import utcnow
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.platform.web.dependencies import CurrentTenant, Services
from kiunga.platform.web.request_state import STARTED_AT
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.portal_settings import (
    LOOK_CACHE_STATE_KEY,
    PackageOnSale,
    PortalLook,
    packages_on_sale,
    portal_logo,
    portal_look,
)
from kiunga.tenants.vouchers.purchases import purchase_view, start_purchase
from kiunga.tenants.vouchers.redeem import RedeemRefused, redeem_voucher
from kiunga.tenants.vouchers.usage import VoucherUsage, voucher_usage
from litestar import Controller, MediaType, Request, Response, get, post, route
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

PORTAL_OPT = {"skip_session": True, "exclude_from_csrf": True}
COOKIE = "kiunga_portal"
REFUSAL_FLOOR_SECONDS = 0.3
LOOK_CACHE_SECONDS = 5.0
LOCAL_TIME = ZoneInfo("Africa/Nairobi")
NO_STORE = {"cache-control": "no-store"}
REFUSALS = {"unknown", "expired", "used_up", "revoked", "other_device"}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    auto_reload=False,
)


# --- wiring kept on the app: the signer, the throttle, the look cache ---------------------


def _signer(request: Request) -> Signer:
    state = request.app.state
    signer = state.get("portal_signer")
    if signer is None:
        secret = request.app.state.services.settings.secret_key
        signer = state["portal_signer"] = Signer(derive_key(secret, "portal-state"))
    return signer


def _throttle(services: WebServices) -> RedeemThrottle:
    return RedeemThrottle(services.redis)


@dataclass(frozen=True, slots=True)
class Shop:
    look: PortalLook
    packages: list[PackageOnSale]


async def _shop(request: Request, services: WebServices, tenant: TenantContext) -> Shop:
    """The ISP's portal look and packages, cached for a few seconds per process (the
    console's page clears this process's cache when it saves)."""
    state = request.app.state
    cache = state.get(LOOK_CACHE_STATE_KEY)
    if cache is None:
        cache = state[LOOK_CACHE_STATE_KEY] = TtlCache(LOOK_CACHE_SECONDS)
    shop = cache.get(tenant.id)
    if shop is ABSENT:
        async with services.database.tenant_session(tenant.schema) as session:
            shop = Shop(await portal_look(session, tenant.name), await packages_on_sale(session))
        cache.set(tenant.id, shop)
    return shop


# --- presentation -------------------------------------------------------------------------


def price_text(amount: int, currency: str) -> str:
    whole, cents = divmod(amount, 100)
    return f"{currency} {whole:,}" if cents == 0 else f"{currency} {whole:,}.{cents:02d}"


def local_time(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TIME).strftime("%d %b %Y %H:%M") if moment else ""


@dataclass(frozen=True, slots=True)
class PackageCard:
    id: int
    name: str
    price_text: str
    describe: str


def _card(package: PackageOnSale, t: Translator) -> PackageCard:
    validity = t(
        "validity",
        count=package.validity_count,
        unit=t.unit(package.validity_unit, package.validity_count),
    )
    data = (
        t("data_cap", amount=data_amount(package.data_cap_bytes))
        if package.data_cap_bytes
        else t("unlimited_data")
    )
    return PackageCard(
        package.id,
        package.name,
        price_text(package.price, package.currency),
        f"{validity} · {data}",
    )


class Page:
    """One portal page being answered: its language, router state and form token."""

    def __init__(self, request: Request, tenant: TenantContext, shop: Shop, values) -> None:
        self.request = request
        self.tenant = tenant
        self.shop = shop
        self.lang = pick_language(values.get("lang"), shop.look.default_language)
        self.t = Translator(self.lang)
        self.rs = values.get("rs") or ""
        self.state = _signer(request).load_state(tenant.id, self.rs)
        if self.state is None:
            self.rs = ""
        self.nonce = request.cookies.get(COOKIE) or ""
        self._new_nonce = not self.nonce
        if self._new_nonce:
            self.nonce = new_nonce()

    def form_valid(self, form) -> bool:
        return not self._new_nonce and _signer(self.request).form_token_valid(
            self.tenant.id, self.nonce, form.get("_pt")
        )

    def url(self, path: str, **extra: object) -> str:
        query = {"lang": self.lang, **({"rs": self.rs} if self.rs else {}), **extra}
        return f"{path}?{urlencode(query)}"

    @property
    def landing_url(self) -> str:
        return self.url("/portal/")

    def render(
        self,
        template: str,
        *,
        status_code: int = 200,
        toggle_path: str | None = None,
        toggle_extra: dict | None = None,
        **context: object,
    ) -> Response:
        other = "sw" if self.lang == "en" else "en"
        toggle_query = {"lang": other, **({"rs": self.rs} if self.rs else {})}
        toggle_query.update(toggle_extra or {})
        html = templates.get_template(template).render(
            t=self.t,
            lang=self.lang,
            look=self.shop.look,
            rs=self.rs,
            form_token=_signer(self.request).form_token(self.tenant.id, self.nonce),
            other_lang=other,
            other_lang_name=LANGUAGE_NAMES[other],
            toggle_url=f"{toggle_path or '/portal/'}?{urlencode(toggle_query)}",
            **context,
        )
        cookies = []
        if self._new_nonce:
            secure = self.request.app.state.services.settings.is_production
            cookies.append(
                Cookie(
                    key=COOKIE,
                    value=self.nonce,
                    path="/portal",
                    httponly=True,
                    samesite="lax",
                    secure=secure,
                    max_age=86400,
                )
            )
        return Response(
            html,
            status_code=status_code,
            media_type=MediaType.HTML,
            headers=NO_STORE,
            cookies=cookies,
        )

    def landing(
        self,
        *,
        code: str = "",
        message: str = "",
        router_error: str = "",
        status_code: int = 200,
    ) -> Response:
        cards = [_card(package, self.t) for package in self.shop.packages]
        extra = {"code": code} if code and not message else {}
        return self.render(
            "landing.html",
            status_code=status_code,
            toggle_extra=extra,
            code=code,
            message=message,
            router_error=router_error,
            packages=cards,
        )

    def login(self, username: str, password: str, *, show_code: bool, expires_at=None):
        """The page that logs the device in at the router (needs a router state)."""
        state = self.state
        sent = chap_response(state.chap_id, password, state.chap_challenge)
        return self.render(
            "login.html",
            username=username,
            password=sent if state.uses_chap else password,
            login_url=state.login_url,
            dst=state.original_url,
            show_code=show_code,
            valid_until=local_time(expires_at),
        )

    def usage(
        self, code: str, usage: VoucherUsage | None, *, logout_url: str = "", online: bool = False
    ) -> Response:
        """A voucher's time and data left; `online`: the router's status page (None usage:
        a login that is not a voucher, shown with only its log-out button)."""
        t = self.t
        if usage is None:
            return self.render(
                "status.html",
                toggle_path="/portal/status",
                toggle_extra={"username": code, "link-logout": logout_url},
                code=code,
                usage=None,
                online=online,
                logout_url=logout_url,
                back_url="",
            )
        return self.render(
            "status.html",
            toggle_path="/portal/status" if online else None,
            toggle_extra={"username": code, "link-logout": logout_url} if online else None,
            code=code,
            usage=usage,
            online=online,
            status_text=t(f"status_{usage.status}") if f"status_{usage.status}" in STRINGS else "",
            time_left=t.duration(usage.seconds_left or 0),
            not_started=usage.seconds_left is None and usage.status in ("new", "sold"),
            data_left=data_amount(usage.bytes_left or 0),
            data_used=data_amount(usage.bytes_used),
            logout_url=logout_url,
            back_url="" if online else self.landing_url,
        )


async def _pad(request: Request) -> None:
    """Wait until REFUSAL_FLOOR_SECONDS have passed since the request began."""
    started = request.scope.get("state", {}).get(STARTED_AT) or time.perf_counter()
    remaining = REFUSAL_FLOOR_SECONDS - (time.perf_counter() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _page(request: Request, services: WebServices, tenant: TenantContext, values) -> Page:
    return Page(request, tenant, await _shop(request, services, tenant), values)


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
        state = RouterState.from_router(values)
        if state is not None:
            page.state = state
            page.rs = _signer(request).dump_state(tenant.id, state)
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
        throttle = _throttle(services)
        limited = await throttle.check(tenant.id, mac, device_ip, source)
        if limited is not None:
            REDEMPTIONS.labels(outcome="rate_limited").inc()
            await _pad(request)
            return _limited(page, limited)
        if state is None:
            return await _check_only(request, page, services, tenant, code, mac, device_ip)
        try:
            async with services.database.tenant_session(tenant.schema) as session:
                async with session.begin():
                    redeemed = await redeem_voucher(session, code, mac=mac, ip=state.ip)
        except (RedeemRefused, VoucherError) as refusal:
            reason = getattr(refusal, "reason", "unknown")
            return await _refuse(request, page, throttle, tenant, code, reason, mac, device_ip)
        REDEMPTIONS.labels(outcome="ok").inc()
        return page.login(
            redeemed.code, redeemed.password, show_code=False, expires_at=redeemed.expires_at
        )

    @get("/buy")
    async def buy_form(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        page = await _page(request, services, tenant, request.query_params)
        card = _package_card(page, request.query_params.get("package"))
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
        card = _package_card(page, form.get("package"))
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
            purchase = await start_purchase(
                services.database,
                tenant.schema,
                package_id=card.id,
                phone=phone,
                mac=state.mac,
                ip=state.ip,
                language=page.lang,
            )
        except VoucherError as error:
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
            words = t(key) if key in STRINGS else (view.failure or t("failure_failed"))
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
        mac = normalise_mac(params.get("mac"))
        ip = (params.get("ip") or "").strip()[:45]
        device_ip = f"{source}/{ip}" if ip else source
        throttle = _throttle(services)
        limited = await throttle.check(tenant.id, mac, device_ip, source)
        if limited is not None:
            await _pad(request)
            return _limited(page, limited)
        async with services.database.tenant_session(tenant.schema) as session:
            usage = await voucher_usage(session, code)
        if usage is None:
            await throttle.failed(tenant.id, mac, device_ip, source)
            await _pad(request)
        logout_url = router_url(params.get("link-logout")) or ""
        return page.usage(code, usage, logout_url=logout_url, online=True)

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


def _package_card(page: Page, raw: str | None) -> PackageCard | None:
    if not raw or not str(raw).isdigit():
        return None
    for package in page.shop.packages:
        if package.id == int(raw):
            return _card(package, page.t)
    return None


def _limited(page: Page, limited: Limited) -> Response:
    return page.render(
        "limited.html", status_code=429, seconds=limited.retry_after, back_url=page.landing_url
    )


async def _refuse(
    request: Request,
    page: Page,
    throttle: RedeemThrottle,
    tenant: TenantContext,
    code: str,
    reason: str,
    mac: str | None,
    device_ip: str | None,
) -> Response:
    reason = reason if reason in REFUSALS else "other"
    REDEMPTIONS.labels(outcome=reason).inc()
    await throttle.failed(tenant.id, mac, device_ip, _client_address(request))
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
        throttle = _throttle(services)
        return await _refuse(request, page, throttle, tenant, code, "unknown", mac, device_ip)
    REDEMPTIONS.labels(outcome="checked").inc()
    await _pad(request)
    return page.usage(code, usage)
