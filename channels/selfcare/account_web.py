"""The signed-in /me pages: account, pay (STK push, paying by hand, "I already paid"),
usage, renew or change package (quote, then confirm), hotspot vouchers, devices, tickets
and the message log. Every page acts through the self-service functions; a refusal is
shown on the page with a clear message (4xx), never an error page."""

from __future__ import annotations

import structlog
from kiunga.channels.messages.models import Message
from kiunga.channels.selfcare.pages import MePage, field, mask_phone
from kiunga.channels.selfcare.signin_web import ME_OPT, _signin, account_page_or_choice, open_page
from kiunga.channels.selfservice import accounts as accounts_service
from kiunga.channels.selfservice import packages, payments, tickets, usage, vouchers
from kiunga.channels.selfservice.accounts import AccountRef, accounts_for_phone, clean_phone
from kiunga.channels.selfservice.errors import NotYours
from kiunga.platform.auth.attempts import AttemptLimiter
from kiunga.platform.errors import DomainError, Kind
from kiunga.platform.web.dependencies import CurrentTenant, Services
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.subscribers.models import SubscriberPhone
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from sqlalchemy import or_, select

log = structlog.get_logger("kiunga.selfcare")

MESSAGES_PAGE = 50
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


async def _signed(
    request: Request, services: WebServices, tenant: TenantContext
) -> Signed | Response:
    page = await open_page(request, services, tenant)
    if page.session is None:
        return _signin(page)
    chosen = await account_page_or_choice(page)
    if isinstance(chosen, Response):
        return chosen
    async with services.database.tenant_session(tenant.schema) as session:
        several = len(await accounts_for_phone(session, page.session.phone)) > 1
    return Signed(page, chosen, several)


def _message(page: MePage, error: DomainError) -> str:
    """A refusal in the page's language where the catalogue has words for it."""
    if error.kind is Kind.UNAVAILABLE:
        return page.t("mpesa_down")
    if error.field == "amount" and error.kind is Kind.INVALID:
        return page.t("bad_amount")
    return error.message


def _shillings(text: str) -> int | None:
    cleaned = text.replace(",", "").replace(" ", "")
    if cleaned.upper().startswith("KES"):
        cleaned = cleaned[3:]
    if not cleaned.isdigit() or len(cleaned) > 7:
        return None
    return int(cleaned) * 100


class AccountController(Controller):
    path = "/me"
    include_in_schema = False
    opt = ME_OPT

    @get("/")
    async def home(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        async with me.session() as session:
            summary = await accounts_service.account_summary(session, me.subscriber_id)
        return me.render("account.html", "/me", s=summary)

    # --- paying ---------------------------------------------------------------------------

    async def _pay_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            summary = await accounts_service.account_summary(session, me.subscriber_id)
            phones = list(
                await session.scalars(
                    select(SubscriberPhone.phone)
                    .where(SubscriberPhone.subscriber_id == me.subscriber_id)
                    .order_by(SubscriberPhone.is_primary.desc(), SubscriberPhone.id)
                )
            )
            try:
                by_hand = await accounts_service.payment_instructions(session, me.subscriber_id)
            except DomainError:
                by_hand = None
        context.setdefault("amount", str(summary.suggested_payment // 100 or ""))
        context.setdefault("receipt", "")
        context.setdefault("phone", me.phone)
        return me.render(
            "pay.html",
            "/me/pay",
            status_code=status_code,
            phones=phones,
            by_hand=by_hand,
            **context,
        )

    @get("/pay")
    async def pay_form(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        asked = (request.query_params.get("amount") or "")[:9]
        return await self._pay_page(me, **({"amount": asked} if asked.isdigit() else {}))

    @post("/pay", status_code=200)
    async def pay(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        typed = field(form, "amount", 20)
        if not page.form_valid(form):
            return await self._pay_page(
                me, status_code=400, amount=typed, error=page.t("form_expired")
            )
        amount = _shillings(typed)
        if amount is None or amount <= 0:
            return await self._pay_page(
                me, status_code=400, amount=typed, error=page.t("bad_amount")
            )
        try:
            phone = clean_phone(field(form, "phone", 20) or me.phone)
        except DomainError:
            return await self._pay_page(
                me, status_code=400, amount=typed, error=page.t("bad_phone")
            )
        limiter = _pay_limiter(services, request)
        limited = await limiter.take(
            {"phone": f"{tenant.id}:{phone}", "source": f"{tenant.id}:{page.source}"}
        )
        if limited is not None:
            minutes = -(-limited.retry_after // 60)
            return await self._pay_page(
                me, status_code=429, amount=typed, error=page.t("too_many", minutes=minutes)
            )
        try:
            await payments.ask_payment(
                services.database,
                tenant.schema,
                subscriber_id=me.subscriber_id,
                phone=phone,
                amount=amount,
                channel="selfcare",
            )
        except DomainError as error:
            return await self._pay_page(
                me,
                status_code=error.status_code if error.status_code < 500 else 503,
                amount=typed,
                error=_message(page, error),
            )
        return await self._pay_page(
            me,
            amount=typed,
            notice=page.t("pay_sent", phone=mask_phone(phone), amount=page.money(amount)),
        )

    @post("/claim", status_code=200)
    async def claim(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        receipt = field(form, "receipt", 20)
        if not page.form_valid(form):
            return await self._pay_page(
                me, status_code=400, receipt=receipt, error=page.t("form_expired")
            )
        typed_amount = field(form, "amount", 20)
        amount = _shillings(typed_amount) if typed_amount else None
        if typed_amount and not amount:
            return await self._pay_page(
                me, status_code=400, receipt=receipt, error=page.t("bad_amount")
            )
        try:
            async with me.session() as session, session.begin():
                result = await payments.claim_receipt(
                    session,
                    phone=me.phone,
                    subscriber_id=me.subscriber_id,
                    receipt=receipt,
                    amount=amount,
                    channel="web",
                )
        except DomainError as error:
            return await self._pay_page(me, status_code=400, receipt=receipt, error=error.message)
        words = page.t(
            f"claim_{result.outcome}",
            amount=page.money(result.amount) if result.amount else "",
            ticket=result.ticket.reference if result.ticket else "",
        )
        if result.outcome == "not_found":
            return await self._pay_page(me, receipt=receipt, error=words)
        return await self._pay_page(me, notice=words)

    # --- usage ----------------------------------------------------------------------------

    @get("/usage")
    async def usage(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        async with me.session() as session:
            found = await usage.usage_this_period(session, me.subscriber_id)
        return me.render("usage.html", "/me/usage", usage=found)

    # --- renew, change, vouchers ----------------------------------------------------------

    async def _buy_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            summary = await accounts_service.account_summary(session, me.subscriber_id)
            try:
                await packages.renewal_quote(session, me.subscriber_id)
                renewable = True
                changes = await packages.packages_to_change_to(session, me.subscriber_id)
            except DomainError:
                renewable, changes = False, []
            offers = await vouchers.voucher_offers(session, me.page.lang)
        return me.render(
            "buy.html",
            "/me/buy",
            status_code=status_code,
            s=summary,
            renewable=renewable,
            packages=changes,
            offers=offers,
            **context,
        )

    @get("/buy")
    async def buy(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._buy_page(me)

    @post("/quote", status_code=200)
    async def quote(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        if not page.form_valid(form):
            return await self._buy_page(me, status_code=400, error=page.t("form_expired"))
        kind = field(form, "kind", 10)
        raw_package = field(form, "package_id", 20)
        try:
            async with me.session() as session:
                if kind == "renew":
                    found = await packages.renewal_quote(session, me.subscriber_id)
                elif kind == "change" and raw_package.isdigit():
                    found = await packages.change_quote(session, me.subscriber_id, int(raw_package))
                else:
                    raise NotYours("no such offer", field="package_id")
        except DomainError as error:
            return await self._buy_page(me, status_code=error.status_code, error=error.message)
        return me.render("quote.html", "/me/buy", q=found)

    @post("/confirm", status_code=200)
    async def confirm(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        if not page.form_valid(form):
            return await self._buy_page(me, status_code=400, error=page.t("form_expired"))
        token = field(form, "quote", 120)
        act = packages.change_now if token.startswith("change:") else packages.renew_now
        try:
            async with me.session() as session, session.begin():
                done = await act(
                    session,
                    subscriber_id=me.subscriber_id,
                    phone=me.phone,
                    token=token,
                    channel="selfcare",
                )
        except DomainError as error:
            return await self._buy_page(me, status_code=error.status_code, error=error.message)
        name = done.package_name_sw if page.lang == "sw" else done.package_name
        notice = (
            page.t("done_renew", date=page.when(done.new_expiry))
            if done.kind == "renew"
            else page.t("done_change", package=name)
        )
        return await self._buy_page(me, notice=notice)

    @post("/voucher", status_code=200)
    async def voucher(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        raw = field(form, "package_id", 20)
        if not page.form_valid(form):
            return await self._buy_page(me, status_code=400, error=page.t("form_expired"))
        limited = await _pay_limiter(services, request).take(
            {"phone": f"{tenant.id}:{me.phone}", "source": f"{tenant.id}:{page.source}"}
        )
        if limited is not None:
            minutes = -(-limited.retry_after // 60)
            return await self._buy_page(
                me, status_code=429, error=page.t("too_many", minutes=minutes)
            )
        try:
            purchase = await vouchers.buy_voucher(
                services.database,
                tenant.schema,
                phone=me.phone,
                package_id=int(raw) if raw.isdigit() else -1,
                language=page.lang,
            )
        except DomainError as error:
            status = error.status_code if error.status_code < 500 else 503
            return await self._buy_page(me, status_code=status, error=_message(page, error))
        async with me.session() as session:
            offers = {o.package_id: o for o in await vouchers.voucher_offers(session, page.lang)}
        offer = offers.get(purchase.package_id)
        amount = page.money(offer.price, offer.currency) if offer else ""
        return await self._buy_page(
            me, notice=page.t("voucher_sent", phone=mask_phone(me.phone), amount=amount)
        )

    # --- devices --------------------------------------------------------------------------

    @get("/devices")
    async def devices(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._devices_page(me)

    async def _devices_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            found = await usage.devices(session, me.subscriber_id)
        context.setdefault("confirm", None)
        return me.render(
            "devices.html", "/me/devices", status_code=status_code, devices=found, **context
        )

    @get("/devices/remove")
    async def remove_form(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        service_id = (request.query_params.get("service_id") or "")[:20]
        mac = (request.query_params.get("mac") or "")[:20].upper()
        async with me.session() as session:
            found = await usage.devices(session, me.subscriber_id)
        match = next((d for d in found if str(d.service_id) == service_id and d.mac == mac), None)
        if match is None:
            return await self._devices_page(me, status_code=404, error=me.page.t("not_found"))
        return await self._devices_page(me, confirm=match)

    @post("/devices/remove", status_code=200)
    async def remove(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        if not page.form_valid(form):
            return await self._devices_page(me, status_code=400, error=page.t("form_expired"))
        raw = field(form, "service_id", 20)
        mac = field(form, "mac", 20)
        try:
            async with me.session() as session, session.begin():
                removed = await usage.remove_device(
                    session,
                    subscriber_id=me.subscriber_id,
                    service_id=int(raw) if raw.isdigit() else -1,
                    mac=mac,
                )
        except DomainError as error:
            return await self._devices_page(me, status_code=error.status_code, error=error.message)
        return await self._devices_page(me, notice=page.t("removed", mac=removed.mac))

    # --- tickets --------------------------------------------------------------------------

    async def _tickets_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            found = await tickets.open_tickets(session, me.subscriber_id, include_finished=True)
        context.setdefault("category", "connectivity")
        context.setdefault("text", "")
        return me.render(
            "tickets.html",
            "/me/tickets",
            status_code=status_code,
            tickets=found,
            categories=tickets.CATEGORIES,
            **context,
        )

    @get("/tickets")
    async def tickets_list(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._tickets_page(me)

    @post("/tickets", status_code=200)
    async def open_ticket(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        category = field(form, "category", 20)
        text = field(form, "text", tickets.MAX_TEXT + 1)
        if not page.form_valid(form):
            return await self._tickets_page(
                me, status_code=400, category=category, text=text, error=page.t("form_expired")
            )
        if not text:
            return await self._tickets_page(
                me, status_code=400, category=category, text=text, error=page.t("text_missing")
            )
        try:
            async with me.session() as session, session.begin():
                opened = await tickets.report_problem(
                    session,
                    subscriber_id=me.subscriber_id,
                    phone=me.phone,
                    category=category,
                    text=text,
                    channel="web",
                )
        except DomainError as error:
            return await self._tickets_page(
                me, status_code=400, category=category, text=text, error=error.message
            )
        return await self._tickets_page(me, notice=page.t("ticket_opened", ticket=opened.reference))

    async def _thread_page(
        self, me: Signed, number: int, *, status_code=200, **context
    ) -> Response:
        try:
            async with me.session() as session:
                thread = await tickets.ticket_thread(session, me.subscriber_id, number)
        except DomainError:
            return await self._tickets_page(me, status_code=404, error=me.page.t("not_found"))
        context.setdefault("text", "")
        return me.render(
            "ticket.html", "/me/tickets", status_code=status_code, thread=thread, **context
        )

    @get("/tickets/{number:int}")
    async def ticket(
        self, request: Request, tenant: CurrentTenant, services: Services, number: FromPath[int]
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._thread_page(me, number)

    @post("/tickets/{number:int}/reply", status_code=200)
    async def reply(
        self, request: Request, tenant: CurrentTenant, services: Services, number: FromPath[int]
    ) -> Response:
        form = await request.form()
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        page = me.page
        text = field(form, "text", tickets.MAX_TEXT + 1)
        if not page.form_valid(form):
            return await self._thread_page(
                me, number, status_code=400, text=text, error=page.t("form_expired")
            )
        try:
            async with me.session() as session, session.begin():
                await tickets.reply_to_ticket(
                    session,
                    subscriber_id=me.subscriber_id,
                    phone=me.phone,
                    reference=number,
                    text=text,
                    channel="web",
                )
        except DomainError as error:
            status = 404 if error.kind is Kind.NOT_FOUND else 400
            return await self._thread_page(
                me, number, status_code=status, text=text, error=error.message
            )
        return await self._thread_page(me, number)

    # --- messages -------------------------------------------------------------------------

    @get("/messages")
    async def messages(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await _signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        before = (request.query_params.get("before") or "")[:19]
        query = select(Message).where(
            or_(
                Message.subscriber_id == me.subscriber_id,
                (Message.phone == me.phone) & Message.subscriber_id.is_(None),
            )
        )
        if before.isdigit():
            query = query.where(Message.id < int(before))
        async with me.session() as session:
            rows = list(
                await session.scalars(query.order_by(Message.id.desc()).limit(MESSAGES_PAGE + 1))
            )
        older = rows[MESSAGES_PAGE - 1].id if len(rows) > MESSAGES_PAGE else None
        return me.render(
            "messages.html", "/me/messages", messages=rows[:MESSAGES_PAGE], older=older
        )


def _pay_limiter(services: WebServices, request: Request) -> AttemptLimiter:
    """Counted before a prompt is sent: nobody may aim a stream of prompts at a phone."""
    state = request.app.state
    limiter = state.get("selfcare_pay_limiter")
    if limiter is None:
        limiter = state["selfcare_pay_limiter"] = AttemptLimiter(
            services.redis, "kiunga:me:pay", PAY_LIMITS, PAY_WINDOW_SECONDS
        )
    return limiter
