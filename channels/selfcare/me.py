"""What every signed-in /me page shares: the visitor's page and account (`signed`), the
preamble of every form they post (`signed_form`), a refusal in the page's language, amounts
typed in shillings, and the limit on payment prompts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from kiunga.channels.selfcare.pages import MePage, open_page, read_form
from kiunga.channels.selfcare.signin_web import account_page_or_choice, signin_page
from kiunga.channels.selfservice.accounts import AccountRef, accounts_for_phone
from kiunga.platform.auth.attempts import AttemptLimiter
from kiunga.platform.errors import DomainError, Kind
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from litestar import Request, Response

# STK pushes asked for from /me, per phone and per client address, in a window.
PAY_LIMITS = {"phone": 3, "source": 10}
PAY_WINDOW_SECONDS = 600


class Signed:
    """A signed-in page with its account (the session's phone is one of its numbers)."""

    def __init__(self, page: MePage, account: AccountRef, several: bool):
        self.page = page
        self.account = account
        self.several = several

    @property
    def subscriber_id(self) -> int:
        return self.account.subscriber_id

    @property
    def phone(self) -> str:
        return self.page.session.phone

    def render(self, template: str, here: str, *, status_code: int = 200, **context) -> Response:
        return self.page.render(
            template,
            status_code=status_code,
            account=self.account,
            here=here,
            several_accounts=self.several,
            **context,
        )

    def session(self):
        return self.page.services.database.tenant_session(self.page.tenant.schema)


async def signed(
    request: Request, services: WebServices, tenant: TenantContext
) -> Signed | Response:
    return await _signed_on(await open_page(request, services, tenant))


async def _signed_on(page: MePage) -> Signed | Response:
    """The page with its account, or the sign-in page / the choice of account."""
    services, tenant = page.services, page.tenant
    if page.session is None:
        return signin_page(page)
    chosen = await account_page_or_choice(page)
    if isinstance(chosen, Response):
        return chosen
    async with services.database.tenant_session(tenant.schema) as session:
        several = len(await accounts_for_phone(session, page.session.phone)) > 1
    return Signed(page, chosen, several)


@dataclass(frozen=True)
class SignedForm:
    """A form posted by a signed-in visitor, its token good: `form.me`, `form["field"]`."""

    me: Signed
    values: Mapping[str, str]

    @property
    def page(self) -> MePage:
        return self.me.page

    def __getitem__(self, name: str) -> str:
        return self.values[name]


# The page a form was posted from, shown again: `await again(me, status_code=…, error=…)`.
PageAgain = Callable[..., Awaitable[Response]]


async def signed_form(
    request: Request,
    services: WebServices,
    tenant: TenantContext,
    *,
    fields: Mapping[str, int],
    again: PageAgain,
    echo: Iterable[str] = (),
) -> SignedForm | Response:
    """What every form of a signed-in /me page does first: read the form and its `fields`
    (each trimmed and cut to its limit), find the signed-in visitor's account (else answer
    with the sign-in page or the choice of account) and check the form's token. An expired
    or foreign token shows the page again (`again`), 400, saying so, with the fields named
    in `echo` typed back; nothing is done."""
    posted = await read_form(request, services, tenant, fields)
    me = await _signed_on(posted.page)
    if isinstance(me, Response):
        return me
    if not posted.valid:
        typed = {name: posted[name] for name in echo}
        return await again(me, status_code=400, error=me.page.t("form_expired"), **typed)
    return SignedForm(me, posted.values)


def refusal_words(page: MePage, error: DomainError) -> str:
    """A refusal in the page's language where the catalogue has words for it."""
    if error.kind is Kind.UNAVAILABLE:
        return page.t("mpesa_down")
    if error.field == "amount" and error.kind is Kind.INVALID:
        return page.t("bad_amount")
    return error.message


def shillings(text: str) -> int | None:
    cleaned = text.replace(",", "").replace(" ", "")
    if cleaned.upper().startswith("KES"):
        cleaned = cleaned[3:]
    if not cleaned.isdigit() or len(cleaned) > 7:
        return None
    return int(cleaned) * 100


def pay_limiter(services: WebServices, request: Request) -> AttemptLimiter:
    """Counted before a prompt is sent: nobody may aim a stream of prompts at a phone."""
    state = request.app.state
    limiter = state.get("selfcare_pay_limiter")
    if limiter is None:
        limiter = state["selfcare_pay_limiter"] = AttemptLimiter(
            services.redis, "kiunga:me:pay", PAY_LIMITS, PAY_WINDOW_SECONDS
        )
    return limiter
