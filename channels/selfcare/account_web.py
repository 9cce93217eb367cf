"""/me: the account, paying (an STK push, paying by hand, "I already paid"), usage this
period and the message log. Every page acts through the self-service functions; a refusal
is shown on the page with a clear message (4xx), never an error page."""

from __future__ import annotations

from kiunga.channels.messages.models import Message
from kiunga.channels.selfcare.me import (
    Signed,
    pay_limiter,
    refusal_words,
    shillings,
    signed,
    signed_form,
)
from kiunga.channels.selfcare.pages import MeController, mask_phone
from kiunga.channels.selfservice import accounts as accounts_service
from kiunga.channels.selfservice import payments, usage
from kiunga.channels.selfservice.accounts import clean_phone
from kiunga.platform.errors import DomainError
from kiunga.platform.web.dependencies import CurrentTenant, Services
from kiunga.tenants.subscribers.models import SubscriberPhone
from litestar import Request, Response, get, post
from sqlalchemy import or_, select

MESSAGES_PAGE = 50


class AccountController(MeController):
    @get("/")
    async def home(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        me = await signed(request, services, tenant)
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
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        asked = (request.query_params.get("amount") or "")[:9]
        return await self._pay_page(me, **({"amount": asked} if asked.isdigit() else {}))

    @post("/pay", status_code=200)
    async def pay(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await signed_form(
            request, services, tenant,
            fields={"amount": 20, "phone": 20}, again=self._pay_page, echo=("amount",),
        )  # fmt: skip
        if isinstance(posted, Response):
            return posted
        me, page, typed = posted.me, posted.page, posted["amount"]
        amount = shillings(typed)
        if amount is None or amount <= 0:
            return await self._pay_page(
                me, status_code=400, amount=typed, error=page.t("bad_amount")
            )
        try:
            phone = clean_phone(posted["phone"] or me.phone)
        except DomainError:
            return await self._pay_page(
                me, status_code=400, amount=typed, error=page.t("bad_phone")
            )
        limiter = pay_limiter(services, request)
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
                error=refusal_words(page, error),
            )
        return await self._pay_page(
            me,
            amount=typed,
            notice=page.t("pay_sent", phone=mask_phone(phone), amount=page.money(amount)),
        )

    @post("/claim", status_code=200)
    async def claim(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await signed_form(
            request, services, tenant,
            fields={"receipt": 20, "amount": 20}, again=self._pay_page, echo=("receipt",),
        )  # fmt: skip
        if isinstance(posted, Response):
            return posted
        me, page, receipt = posted.me, posted.page, posted["receipt"]
        typed_amount = posted["amount"]
        amount = shillings(typed_amount) if typed_amount else None
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
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        async with me.session() as session:
            found = await usage.usage_this_period(session, me.subscriber_id)
        return me.render("usage.html", "/me/usage", usage=found)

    # --- messages -------------------------------------------------------------------------

    @get("/messages")
    async def messages(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await signed(request, services, tenant)
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
