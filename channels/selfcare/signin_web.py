"""/me sign-in: the phone number, the code sent by SMS, the account (when the phone is on
several), and signing out. See signin.py for codes and sessions."""

from __future__ import annotations

import structlog
from kiunga.channels.messages.models import MessageChannel
from kiunga.channels.messages.outbound import queue_message
from kiunga.channels.selfcare.pages import MeController, MePage, mask_phone, open_page, read_form
from kiunga.channels.selfservice.accounts import (
    AccountRef,
    accounts_for_phone,
    choose_account,
    chosen_account,
    clean_phone,
)
from kiunga.channels.selfservice.errors import SelfServiceError
from kiunga.platform.auth.attempts import Limited
from kiunga.platform.web.dependencies import CurrentTenant, Services
from litestar import Request, Response, get, post

log = structlog.get_logger("kiunga.selfcare")


def signin_page(
    page: MePage,
    *,
    step: str = "phone",
    phone: str = "",
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Response:
    return page.render(
        "signin.html", step=step, phone=phone, error=error, notice=notice, status_code=status_code
    )


def _limited(page: MePage, limited: Limited | None) -> str:
    minutes = -(-(limited.retry_after if limited else 900) // 60)
    return page.t("too_many", minutes=minutes)


async def account_page_or_choice(page: MePage) -> Response | AccountRef:
    """The signed-in visitor's account, or the page that asks which one."""
    async with page.services.database.tenant_session(page.tenant.schema) as session:
        accounts = await accounts_for_phone(session, page.session.phone)
    chosen = next((a for a in accounts if a.subscriber_id == page.session.subscriber_id), None)
    if chosen is not None:
        return chosen
    if len(accounts) == 1:
        await page.sessions.choose(page.session, accounts[0].subscriber_id)
        return accounts[0]
    if not accounts:
        # The phone was taken off its account since: the session is over.
        await page.sessions.end(page.session.token)
        page.signed_out()
        return signin_page(page)
    return page.render("accounts.html", accounts=accounts)


class SignInController(MeController):
    @post("/code", status_code=200)
    async def send_code(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        posted = await read_form(request, services, tenant, {"phone": 40})
        page, typed = posted.page, posted["phone"]
        if not posted.valid:
            return signin_page(page, phone=typed, error=page.t("form_expired"), status_code=400)
        try:
            phone = clean_phone(typed)
        except SelfServiceError:
            return signin_page(page, phone=typed, error=page.t("bad_phone"), status_code=400)
        limited = await page.codes.may_send(tenant.id, phone, page.source)
        if limited is not None:
            return signin_page(page, phone=typed, error=_limited(page, limited), status_code=429)
        async with services.database.tenant_session(tenant.schema) as session:
            async with session.begin():
                accounts = await accounts_for_phone(session, phone)
                if accounts:
                    code = await page.codes.issue(tenant.id, phone)
                    await queue_message(
                        session,
                        phone=phone,
                        body=page.t("sms_code", code=code, isp=tenant.name),
                        kind="sign_in_code",
                        channel=MessageChannel.SMS,
                        subscriber_id=accounts[0].subscriber_id,
                        urgent=True,
                        language=page.lang,
                    )
        # The same answer whether or not the phone is anyone's.
        return signin_page(
            page,
            step="code",
            phone=phone,
            notice=page.t("code_sent", phone=mask_phone(phone)),
        )

    @post("/verify", status_code=200)
    async def verify(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await read_form(request, services, tenant, {"phone": 40, "code": 20})
        page, typed = posted.page, posted["phone"]
        code = "".join(posted["code"].split())
        if not posted.valid:
            return signin_page(page, phone=typed, error=page.t("form_expired"), status_code=400)
        try:
            phone = clean_phone(typed)
        except SelfServiceError:
            return signin_page(page, error=page.t("bad_phone"), status_code=400)
        limited = await page.codes.may_try(tenant.id, phone, page.source)
        if limited is not None:
            return signin_page(
                page, step="code", phone=phone, error=_limited(page, limited), status_code=429
            )
        if not await page.codes.check(tenant.id, phone, code):
            return signin_page(
                page, step="code", phone=phone, error=page.t("wrong_code"), status_code=400
            )
        async with services.database.tenant_session(tenant.schema) as session:
            chosen = await chosen_account(session, phone)
        if page.session is not None:
            await page.sessions.end(page.session.token)
        token = await page.sessions.create(
            tenant.id, phone, chosen.subscriber_id if chosen else None
        )
        page.signed_in_as(token)
        log.info("selfcare sign-in", tenant=tenant.slug)
        return page.redirect("/me")

    @get("/accounts")
    async def accounts(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        page = await open_page(request, services, tenant)
        if page.session is None:
            return page.redirect("/me")
        async with services.database.tenant_session(tenant.schema) as session:
            accounts = await accounts_for_phone(session, page.session.phone)
        return page.render("accounts.html", accounts=accounts)

    @post("/accounts", status_code=200)
    async def choose(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await read_form(request, services, tenant, {"subscriber_id": 20})
        page, raw = posted.page, posted["subscriber_id"]
        if page.session is None:
            return page.redirect("/me")
        if not posted.valid or not raw.isdigit():
            return page.redirect("/me/accounts")
        try:
            async with services.database.tenant_session(tenant.schema) as session:
                async with session.begin():
                    account = await choose_account(
                        session, phone=page.session.phone, subscriber_id=int(raw)
                    )
        except SelfServiceError:
            return page.redirect("/me/accounts")
        except LookupError:
            return page.redirect("/me/accounts")
        await page.sessions.choose(page.session, account.subscriber_id)
        return page.redirect("/me")

    @post("/signout", status_code=200)
    async def sign_out(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        posted = await read_form(request, services, tenant, {})
        page = posted.page
        if page.session is not None and posted.valid:
            await page.sessions.end(page.session.token)
            page.signed_out()
        return page.redirect("/me")
