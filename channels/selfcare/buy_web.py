"""/me: renew now or change package (the quote, then its confirmation) and hotspot vouchers
bought with an STK push."""

from __future__ import annotations

from kiunga.channels.selfcare.me import Signed, pay_limiter, refusal_words, signed, signed_form
from kiunga.channels.selfcare.pages import MeController, mask_phone
from kiunga.channels.selfservice import accounts as accounts_service
from kiunga.channels.selfservice import packages, vouchers
from kiunga.channels.selfservice.errors import NotYours
from kiunga.platform.errors import DomainError
from kiunga.platform.web.dependencies import CurrentTenant, Services
from litestar import Request, Response, get, post


class BuyController(MeController):
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
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._buy_page(me)

    @post("/quote", status_code=200)
    async def quote(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await signed_form(
            request, services, tenant, fields={"kind": 10, "package_id": 20}, again=self._buy_page
        )
        if isinstance(posted, Response):
            return posted
        me, kind, raw_package = posted.me, posted["kind"], posted["package_id"]
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
        posted = await signed_form(
            request, services, tenant, fields={"quote": 120}, again=self._buy_page
        )
        if isinstance(posted, Response):
            return posted
        me, page, token = posted.me, posted.page, posted["quote"]
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
        posted = await signed_form(
            request, services, tenant, fields={"package_id": 20}, again=self._buy_page
        )
        if isinstance(posted, Response):
            return posted
        me, page, raw = posted.me, posted.page, posted["package_id"]
        limited = await pay_limiter(services, request).take(
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
            return await self._buy_page(me, status_code=status, error=refusal_words(page, error))
        async with me.session() as session:
            offers = {o.package_id: o for o in await vouchers.voucher_offers(session, page.lang)}
        offer = offers.get(purchase.package_id)
        amount = page.money(offer.price, offer.currency) if offer else ""
        return await self._buy_page(
            me, notice=page.t("voucher_sent", phone=mask_phone(me.phone), amount=amount)
        )
