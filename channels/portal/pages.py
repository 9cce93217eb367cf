"""How the portal's pages are put together: the ISP's look and packages (cached for a few
seconds per process), the language, the router state and form token each page carries,
and the templates (small, self-contained HTML with inline CSS and no framework)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
from kiunga.channels.portal.chap import chap_response
from kiunga.channels.portal.i18n import (
    CATALOGUE,
    PortalTranslator,
    data_amount,
    pick_language,
    translator,
)
from kiunga.channels.portal.login_hosts import hotspot_state, is_hotspot_url, registered_hosts
from kiunga.channels.portal.ratelimit import BuyThrottle, Limited, RedeemThrottle
from kiunga.channels.portal.settings import (
    LOOK_CACHE_STATE_KEY,
    PackageOnSale,
    PortalLook,
    packages_on_sale,
    portal_look,
    swahili_package_names,
)
from kiunga.channels.portal.state import RouterState, Signer, new_nonce
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.money import format_money
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.vouchers.usage import VoucherUsage
from kiunga.tenants.zones import tenant_zone
from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie

COOKIE = "kiunga_portal"
# The language a phone chose. The router's pages (login.html after a refused login or a
# log-out) post to the portal from the router's own site, and such a cross-site post only
# carries a SameSite=None cookie, which browsers keep only when Secure (https, or
# localhost in development); on plain http the Lax one still holds for the portal's own
# pages and the router's status.html, which arrives by GET.
LANG_COOKIE = "kiunga_portal_lang"
LANG_COOKIE_PLAIN = "kiunga_portal_lang_lax"
LANG_COOKIE_SECONDS = 90 * 86400
LOOK_CACHE_SECONDS = 5.0
NO_STORE = {"cache-control": "no-store"}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    auto_reload=False,
)


# --- wiring kept on the app: the signer, the throttle, the look cache ---------------------


def portal_signer(request: Request) -> Signer:
    state = request.app.state
    signer = state.get("portal_signer")
    if signer is None:
        secret = request.app.state.services.settings.secret_key
        signer = state["portal_signer"] = Signer(derive_key(secret, "portal-state"))
    return signer


def redeem_throttle(services: WebServices) -> RedeemThrottle:
    return RedeemThrottle(services.redis)


def buy_throttle(services: WebServices) -> BuyThrottle:
    return BuyThrottle(services.redis)


@dataclass(frozen=True, slots=True)
class Shop:
    look: PortalLook
    packages: list[PackageOnSale]
    zone: ZoneInfo
    # English package name → Swahili name, where the ISP gave one.
    names_sw: dict[str, str]
    # The hosts of the ISP's hotspots' login pages besides private addresses.
    login_hosts: frozenset[str]


async def load_shop(request: Request, services: WebServices, tenant: TenantContext) -> Shop:
    """The ISP's portal look and packages, cached for a few seconds per process (the
    console's page clears this process's cache when it saves)."""
    state = request.app.state
    cache = state.get(LOOK_CACHE_STATE_KEY)
    if cache is None:
        cache = state[LOOK_CACHE_STATE_KEY] = TtlCache(LOOK_CACHE_SECONDS)
    shop = cache.get(tenant.id)
    if shop is ABSENT:
        async with services.database.tenant_session(tenant.schema) as session:
            look = await portal_look(session, tenant.name)
            shop = Shop(
                look,
                await packages_on_sale(session),
                await tenant_zone(session),
                await swahili_package_names(session),
                await registered_hosts(session, look.hotspot_hosts),
            )
        cache.set(tenant.id, shop)
    return shop


# --- presentation -------------------------------------------------------------------------


def price_text(amount: int, currency: str) -> str:
    return format_money(amount, currency, short=True)


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A time as the ISP's users read it: in the ISP's own zone."""
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else ""


@dataclass(frozen=True, slots=True)
class PackageCard:
    id: int
    name: str
    price_text: str
    describe: str


def package_summary(package: PackageOnSale, t: PortalTranslator) -> PackageCard:
    name = package.name_sw if t.language == "sw" and package.name_sw else package.name
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
        name,
        price_text(package.price, package.currency),
        f"{validity} · {data}",
    )


class Page:
    """One portal page being answered: its language, router state and form token."""

    def __init__(self, request: Request, tenant: TenantContext, shop: Shop, values) -> None:
        self.request = request
        self.tenant = tenant
        self.shop = shop
        chosen = values.get("lang")
        self._chosen_lang = chosen if CATALOGUE.knows(chosen) else None
        remembered = request.cookies.get(LANG_COOKIE) or request.cookies.get(LANG_COOKIE_PLAIN)
        self.lang = pick_language(self._chosen_lang or remembered, shop.look.default_language)
        self.t = translator(self.lang)
        self.rs = values.get("rs") or ""
        # Checked again on every page: a state signed before a host stopped being allowed.
        self.state = self.own_state(portal_signer(request).load_state(tenant.id, self.rs))
        if self.state is None:
            self.rs = ""
        self.nonce = request.cookies.get(COOKIE) or ""
        self._new_nonce = not self.nonce
        if self._new_nonce:
            self.nonce = new_nonce()

    def own_state(self, state: RouterState | None) -> RouterState | None:
        """`state` when its login page is one of the ISP's hotspots (see login_hosts)."""
        return hotspot_state(state, self.shop.login_hosts, allow_loopback=self._allow_loopback)

    def own_url(self, url: str | None) -> str:
        """A router's link when it is on one of the ISP's hotspots, else ''."""
        ok = url and is_hotspot_url(url, self.shop.login_hosts, allow_loopback=self._allow_loopback)
        return url if ok else ""

    @property
    def _allow_loopback(self) -> bool:
        # A hotspot on this very machine exists only in development and tests.
        return not self.request.app.state.services.settings.is_production

    def form_valid(self, form) -> bool:
        return not self._new_nonce and portal_signer(self.request).form_token_valid(
            self.tenant.id, self.nonce, form.get("_pt")
        )

    def url(self, path: str, **extra: object) -> str:
        query = {"lang": self.lang, **({"rs": self.rs} if self.rs else {}), **extra}
        return f"{path}?{urlencode(query)}"

    @property
    def landing_url(self) -> str:
        return self.url("/portal/")

    @property
    def welcome(self) -> str:
        look = self.shop.look
        if self.lang == "sw" and look.welcome_sw:
            return look.welcome_sw
        return look.welcome or self.t("welcome_default")

    def package_name(self, name: str) -> str:
        """A package's name as this page's language shows it."""
        return self.shop.names_sw.get(name, name) if self.lang == "sw" else name

    def render(
        self,
        template: str,
        *,
        status_code: int = 200,
        toggle_path: str | None = None,
        toggle_extra: dict | None = None,
        **context: object,
    ) -> Response:
        other = CATALOGUE.next_language(self.lang)
        toggle_query = {"lang": other, **({"rs": self.rs} if self.rs else {})}
        toggle_query.update(toggle_extra or {})
        html = templates.get_template(template).render(
            t=self.t,
            lang=self.lang,
            look=self.shop.look,
            rs=self.rs,
            form_token=portal_signer(self.request).form_token(self.tenant.id, self.nonce),
            other_lang=other,
            other_lang_name=CATALOGUE.language_name(other),
            toggle_url=f"{toggle_path or '/portal/'}?{urlencode(toggle_query)}",
            welcome=self.welcome,
            **context,
        )
        cookies = self._language_cookies()
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

    def _language_cookies(self) -> list[Cookie]:
        if self._chosen_lang is None:
            return []
        common = {"value": self._chosen_lang, "path": "/portal", "httponly": True}
        return [
            Cookie(
                key=LANG_COOKIE,
                samesite="none",
                secure=True,
                max_age=LANG_COOKIE_SECONDS,
                **common,
            ),
            Cookie(key=LANG_COOKIE_PLAIN, samesite="lax", max_age=LANG_COOKIE_SECONDS, **common),
        ]

    def landing(
        self,
        *,
        code: str = "",
        message: str = "",
        router_error: str = "",
        status_code: int = 200,
    ) -> Response:
        cards = [package_summary(package, self.t) for package in self.shop.packages]
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
            valid_until=local_time(expires_at, self.shop.zone),
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
            package_name=self.package_name(usage.package_name),
            online=online,
            status_text=t(f"status_{usage.status}") if t.has(f"status_{usage.status}") else "",
            time_left=t.duration(usage.seconds_left or 0),
            not_started=usage.seconds_left is None and usage.status in ("new", "sold"),
            data_left=data_amount(usage.bytes_left or 0),
            data_used=data_amount(usage.bytes_used),
            logout_url=logout_url,
            back_url="" if online else self.landing_url,
        )


def package_card(page: Page, raw: str | None) -> PackageCard | None:
    if not raw or not str(raw).isdigit():
        return None
    for package in page.shop.packages:
        if package.id == int(raw):
            return package_summary(package, page.t)
    return None


def limited_page(page: Page, limited: Limited, message: str = "") -> Response:
    return page.render(
        "limited.html",
        status_code=429,
        seconds=limited.retry_after,
        message=message,
        back_url=page.landing_url,
    )
