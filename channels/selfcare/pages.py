"""How a /me page is answered: the visitor's language (a ?lang= switch remembered in a
cookie), the browser's nonce cookie and form token, the signed-in session, and the
templates (small HTML with inline CSS, no script: they work with JavaScript off)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment, FileSystemLoader
from kiunga.channels.selfcare.i18n import CATALOGUE, pick_language, translator
from kiunga.channels.selfcare.signin import FormTokens, MeSession, Sessions, SignInCodes
from kiunga.platform.auth.attempts import CounterUnavailable
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.money import format_money
from kiunga.platform.web.request_state import request_tenant
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from litestar import Controller, MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect
from redis.exceptions import RedisError

log = structlog.get_logger("kiunga.selfcare")

SESSION_COOKIE = "kiunga_me"
NONCE_COOKIE = "kiunga_me_nonce"
LANG_COOKIE = "kiunga_me_lang"
LANG_COOKIE_SECONDS = 365 * 86400
NO_STORE = {"cache-control": "no-store"}
MAX_FIELD = 2000

templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    auto_reload=False,
)


def _wiring(services: WebServices, request: Request) -> tuple[SignInCodes, Sessions, FormTokens]:
    state = request.app.state
    wired = state.get("selfcare_wiring")
    if wired is None:
        secret = services.settings.secret_key
        wired = state["selfcare_wiring"] = (
            SignInCodes(services.redis, derive_key(secret, "selfcare-codes")),
            Sessions(services.redis),
            FormTokens(derive_key(secret, "selfcare-forms")),
        )
    return wired


def data_amount(size: int | None) -> str:
    size = int(size or 0)
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} B"


def mask_phone(phone: str) -> str:
    national = phone[4:] if phone.startswith("+254") else phone.lstrip("+")
    return f"0{national[:3]}***{national[-3:]}" if len(national) >= 7 else "***"


class MePage:
    """One /me request being answered."""

    def __init__(self, request: Request, services: WebServices, tenant: TenantContext):
        self.request = request
        self.services = services
        self.tenant = tenant
        self.codes, self.sessions, self.forms = _wiring(services, request)
        chosen = request.query_params.get("lang")
        self._chosen_lang = chosen if CATALOGUE.knows(chosen) else None
        self.lang = pick_language(self._chosen_lang or request.cookies.get(LANG_COOKIE))
        self.t = translator(self.lang)
        self.zone = ZoneInfo(tenant.timezone)
        nonce = request.cookies.get(NONCE_COOKIE) or ""
        self._new_nonce = not (16 <= len(nonce) <= 64 and nonce.isascii())
        self.nonce = new_token() if self._new_nonce else nonce
        self.session: MeSession | None = None
        self._set_session: str | None = None
        self._end_session = False

    async def load_session(self) -> MeSession | None:
        self.session = await self.sessions.load(
            self.request.cookies.get(SESSION_COOKIE), self.tenant.id
        )
        return self.session

    @property
    def source(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https" or self.services.settings.is_production

    def form_valid(self, form) -> bool:
        return not self._new_nonce and self.forms.valid(self.tenant.id, self.nonce, form.get("_ft"))

    def signed_in_as(self, token: str) -> None:
        self._set_session = token

    def signed_out(self) -> None:
        self._end_session = True

    # --- presentation --------------------------------------------------------------------

    def money(self, amount: int | None, currency: str = "KES") -> str:
        return format_money(amount, currency, short=True)

    def when(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%d/%m/%Y %H:%M") if moment else ""

    def render(self, template: str, *, status_code: int = 200, **context: object) -> Response:
        other = CATALOGUE.next_language(self.lang)
        query = {k: v for k, v in self.request.query_params.items() if k != "lang"}
        query["lang"] = other
        html = templates.get_template(template).render(
            t=self.t,
            lang=self.lang,
            page=self,
            isp=self.tenant.name,
            form_token=self.forms.make(self.tenant.id, self.nonce),
            toggle_url=f"{self.request.url.path}?{urlencode(query)}",
            other_lang_name=CATALOGUE.language_name(other),
            signed_in=self.session is not None and not self._end_session,
            data_amount=data_amount,
            **context,
        )
        return Response(
            html,
            status_code=status_code,
            media_type=MediaType.HTML,
            headers=NO_STORE,
            cookies=self.cookies(),
        )

    def redirect(self, path: str) -> Response:
        return Redirect(path, status_code=303, headers=NO_STORE, cookies=self.cookies())

    def cookies(self) -> list[Cookie]:
        common = {"path": "/me", "httponly": True, "samesite": "lax", "secure": self.secure}
        cookies = []
        if self._new_nonce:
            cookies.append(Cookie(key=NONCE_COOKIE, value=self.nonce, max_age=86400, **common))
        if self._chosen_lang:
            cookies.append(
                Cookie(
                    key=LANG_COOKIE, value=self._chosen_lang, max_age=LANG_COOKIE_SECONDS, **common
                )
            )
        if self._set_session:
            cookies.append(Cookie(key=SESSION_COOKIE, value=self._set_session, **common))
        elif self._end_session:
            cookies.append(Cookie(key=SESSION_COOKIE, value="", max_age=0, **common))
        return cookies


def new_token() -> str:
    return secrets.token_urlsafe(24)


async def open_page(request: Request, services: WebServices, tenant: TenantContext) -> MePage:
    page = MePage(request, services, tenant)
    await page.load_session()
    return page


@dataclass(frozen=True)
class PostedForm:
    """A form posted to /me: its page, the fields asked for (each bounded, see `field`),
    and whether its form token is this browser's and still fresh."""

    page: MePage
    values: Mapping[str, str]
    valid: bool

    def __getitem__(self, name: str) -> str:
        return self.values[name]


async def read_form(
    request: Request, services: WebServices, tenant: TenantContext, fields: Mapping[str, int]
) -> PostedForm:
    """The posted form on its page: `fields` maps each field wanted to its length limit.
    What to do with an expired token is the caller's (see me.signed_form)."""
    form = await request.form()
    page = await open_page(request, services, tenant)
    values = {name: field(form, name, limit) for name, limit in fields.items()}
    return PostedForm(page, values, page.form_valid(form))


def field(form, name: str, limit: int = 200) -> str:
    """A form field as text: trimmed, at most `limit` characters. A value holding NUL is
    refused as if empty (it can never be stored), so the page asks for it again."""
    value = form.get(name)
    if not isinstance(value, str) or "\x00" in value:
        return ""
    return value.strip()[:limit]


def redis_unavailable(request: Request, error: Exception) -> Response:
    """Redis (codes, sessions, counters) did not answer: a polite page, not an error page;
    nothing was done."""
    log.warning("selfcare: redis unavailable", error=type(error).__name__)
    page = MePage(request, request.app.state.services, request_tenant(request))
    return page.render("notice.html", status_code=503, error=page.t("try_again"), back="/me")


class MeController(Controller):
    """The base of the /me controllers: public pages (their own session cookie and form
    tokens, not the console's), kept out of the API document."""

    path = "/me"
    include_in_schema = False
    opt = {"skip_session": True, "exclude_from_csrf": True}
    # Codes, sessions and counters live in Redis; the counters refuse rather than let an
    # attempt through uncounted (CounterUnavailable) while it is away.
    exception_handlers = {RedisError: redis_unavailable, CounterUnavailable: redis_unavailable}
