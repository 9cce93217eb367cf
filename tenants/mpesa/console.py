"""The console's M-Pesa pages: settings (owners and admins: edit, test the connection,
rotate the callback token, see the URLs to give Safaricom), asking a subscriber to pay by
STK push, pending and recent requests, the unmatched queue with assignment, and flagged
callbacks. Finance (billing:write) requests payments and assigns; support looks."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.money import MoneyError, minor_digits, parse_money
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, Services, TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id, OptionalId
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.billing.invoices import open_amount
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from kiunga.tenants.mpesa import config, connection, queue, stk
from kiunga.tenants.mpesa.api import gateway_factory
from kiunga.tenants.mpesa.callbacks_web import callback_routes
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.mpesa.models import DarajaEnvironment, RequestStatus, ShortcodeType
from kiunga.tenants.mpesa.scopes import MPESA_SETTINGS
from kiunga.tenants.subscribers.models import Subscriber
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

# Daraja moves Kenyan shillings only, whatever the ISP bills in.
MPESA_CURRENCY = "KES"


@dataclass
class SettingsForm:
    environment: str = "sandbox"
    base_url: str = ""
    shortcode_type: str = "paybill"
    shortcode: str = ""
    till_number: str = ""
    consumer_key: str = ""
    consumer_secret: str = ""
    passkey: str = ""
    initiator_name: str = ""
    security_credential: str = ""
    allowed_sources: str = ""


@dataclass
class RequestForm:
    subscriber_id: str = ""
    account_number: str = ""
    phone: str = ""
    amount: str = ""


@dataclass
class AssignForm:
    account_number: str = ""


def _settings_form(view: config.SettingsView) -> SettingsForm:
    if not view.configured:
        return SettingsForm()
    return SettingsForm(
        environment=view.environment or "sandbox",
        base_url=view.base_url or "",
        shortcode_type=view.shortcode_type or "paybill",
        shortcode=view.shortcode or "",
        till_number=view.till_number or "",
        initiator_name=view.initiator_name or "",
        allowed_sources="\n".join(view.allowed_sources),
    )


async def _settings_page(request, session, *, form=None, errors=None, notice=None, status=200):
    view = config.settings_view(await config.settings_row(session))
    return page(
        request,
        "mpesa/settings.html",
        status_code=status,
        view=view,
        form=form or _settings_form(view),
        errors=errors or {},
        notice=notice or request.query_params.get("notice"),
        environments=[e.value for e in DarajaEnvironment],
        shortcode_types=[t.value for t in ShortcodeType],
    )


async def _request_page(request, session, form: RequestForm, *, errors=None, status=200):
    subscriber = None
    if form.subscriber_id.isdigit():
        subscriber = await session.get(Subscriber, int(form.subscriber_id))
    return page(
        request,
        "mpesa/request_new.html",
        status_code=status,
        form=form,
        subscriber=subscriber,
        errors=errors or {},
    )


def _shillings_to_minor(text: str) -> int | str:
    # M-Pesa asks for whole shillings: cents are refused here, not rounded at Safaricom.
    try:
        amount = parse_money(text, MPESA_CURRENCY, positive=True)
    except MoneyError:
        amount = None
    if amount is None or amount % 10 ** minor_digits(MPESA_CURRENCY):
        return "amount must be a whole number of shillings"
    return amount


class MpesaPagesController(Controller):
    path = "/mpesa"
    include_in_schema = False
    guards = [tenant_only, staff_only]

    # --- settings ----------------------------------------------------------------------

    @get("/settings", guards=[requires_scopes(MPESA_SETTINGS)])
    async def settings_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _settings_page(request, tenant_session)

    @post("/settings", guards=[requires_scopes(MPESA_SETTINGS)])
    async def save_settings(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        services: Services,
        data: URLEncodedBody[SettingsForm],
    ) -> Response:
        secrets = {
            name: getattr(data, name).strip() or None for name in config.SECRET_FIELDS
        }  # an empty secret field keeps the saved one
        change = config.SettingsChange(
            environment=data.environment,
            base_url=data.base_url,
            shortcode_type=data.shortcode_type,
            shortcode=data.shortcode,
            till_number=data.till_number,
            initiator_name=data.initiator_name,
            allowed_sources=data.allowed_sources.splitlines(),
            **secrets,
        )
        try:
            async with tenant_session.begin_nested():
                row = await config.update_settings(tenant_session, change)
                first_time = row.callback_token_encrypted is None
        except MpesaError as error:
            for name in config.SECRET_FIELDS:
                setattr(data, name, "")  # never echoed back into the page
            return await _settings_page(
                request, tenant_session, form=data, errors=error.form_errors(),
                status=HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        if first_time:
            await config.rotate_callback_token(tenant_session, tenant.id)
        await tenant_session.commit()
        callback_routes(request).forget()
        return Redirect("/mpesa/settings?notice=Saved", status_code=303)

    @post("/settings/test-connection", guards=[requires_scopes(MPESA_SETTINGS)])
    async def test_connection(
        self, request: Request, services: Services, tenant: CurrentTenant
    ) -> Response:
        try:
            result = await connection.test_connection(
                services.database, tenant.schema, gateway_factory=gateway_factory(request)
            )
            notice = ("Connected: " if result.ok else "Not connected: ") + result.message
        except MpesaError as error:
            notice = f"Not connected: {error.message}"
        return Redirect(f"/mpesa/settings?notice={notice}", status_code=303)

    @post("/settings/rotate-token", guards=[requires_scopes(MPESA_SETTINGS)])
    async def rotate_token(
        self, request: Request, services: Services, tenant: CurrentTenant
    ) -> Response:
        try:
            result = await connection.rotate_and_register(
                services.database,
                tenant.schema,
                tenant.id,
                gateway_factory=gateway_factory(request),
            )
            notice = "New callback URLs. " + result.message
        except MpesaError as error:
            notice = error.message
        callback_routes(request).forget()
        return Redirect(f"/mpesa/settings?notice={notice}", status_code=303)

    # --- requests ----------------------------------------------------------------------

    @get("/requests", guards=[requires_scopes(BILLING_READ)])
    async def requests_page(
        self,
        request: Request,
        tenant_session: TenantSession,
        subscriber_id: FromQuery[OptionalId] = None,
    ) -> Response:
        pending, _ = await stk.list_requests(
            tenant_session, status=RequestStatus.PENDING, subscriber_id=subscriber_id, limit=100
        )
        recent, total = await stk.list_requests(
            tenant_session, subscriber_id=subscriber_id, limit=50
        )
        return page(
            request,
            "mpesa/requests.html",
            pending=pending,
            recent=recent,
            total=total,
            subscriber_id=subscriber_id,
            notice=request.query_params.get("notice"),
            can_request=BILLING_WRITE in request.user.scopes,
        )

    @get("/requests/new", guards=[requires_scopes(BILLING_WRITE)])
    async def new_request_page(
        self,
        request: Request,
        tenant_session: TenantSession,
        subscriber_id: FromQuery[OptionalId] = None,
    ) -> Response:
        form = RequestForm(subscriber_id=str(subscriber_id or ""))
        if subscriber_id:
            subscriber = await tenant_session.get(Subscriber, subscriber_id)
            if subscriber is not None:
                form.account_number = subscriber.account_number
                form.phone = subscriber.primary_phone or ""
                owed = await open_amount(tenant_session, subscriber.id)
                if owed > 0:
                    unit = 10 ** minor_digits(MPESA_CURRENCY)
                    form.amount = str(-(-owed // unit))  # whole shillings, rounded up
        return await _request_page(request, tenant_session, form)

    @post("/requests", guards=[requires_scopes(BILLING_WRITE)])
    async def send_request(
        self,
        request: Request,
        tenant_session: TenantSession,
        services: Services,
        tenant: CurrentTenant,
        data: URLEncodedBody[RequestForm],
    ) -> Response:
        amount = _shillings_to_minor(data.amount)
        if isinstance(amount, str):
            return await _request_page(
                request, tenant_session, data, errors={"amount": amount},
                status=HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        ask = stk.PaymentAsk(
            phone=data.phone,
            amount=amount,
            subscriber_id=int(data.subscriber_id) if data.subscriber_id.isdigit() else None,
            account_number=data.account_number or None,
        )
        try:
            created = await stk.request_payment(
                services.database,
                tenant.schema,
                ask,
                actor=actor_of(request.user),
                gateway_factory=gateway_factory(request),
            )
        except MpesaError as error:
            return await _request_page(
                request, tenant_session, data, errors=error.form_errors(),
                status=error.status_code if error.status_code < 500 else HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        notice = f"Sent to {created.phone}: waiting for the customer's PIN"
        return Redirect(
            f"/mpesa/requests?subscriber_id={created.subscriber_id}&notice={notice}",
            status_code=303,
        )

    # --- unmatched and flagged ---------------------------------------------------------

    @get("/unmatched", guards=[requires_scopes(BILLING_READ)])
    async def unmatched_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await self._unmatched(request, tenant_session)

    async def _unmatched(self, request, session, *, errors=None, status=200) -> Response:
        waiting, total = await queue.list_unmatched(session, limit=200)
        return page(
            request,
            "mpesa/unmatched.html",
            status_code=status,
            waiting=waiting,
            total=total,
            errors=errors or {},
            notice=request.query_params.get("notice"),
            can_assign=BILLING_WRITE in request.user.scopes,
        )

    @post("/unmatched/{transaction_id:int}/assign", guards=[requires_scopes(BILLING_WRITE)])
    async def assign(
        self,
        request: Request,
        tenant_session: TenantSession,
        transaction_id: FromPath[Id],
        data: URLEncodedBody[AssignForm],
    ) -> Response:
        try:
            async with tenant_session.begin_nested():
                transaction = await queue.assign_unmatched(
                    tenant_session,
                    transaction_id,
                    data.account_number,
                    actor=actor_of(request.user),
                )
        except MpesaError as error:
            return await self._unmatched(
                request, tenant_session, errors={transaction_id: error.message},
                status=error.status_code,
            )  # fmt: skip
        notice = (
            f"{transaction.receipt or transaction.id} credited to {data.account_number.upper()}"
        )
        return Redirect(f"/mpesa/unmatched?notice={notice}", status_code=303)

    @get("/flagged", guards=[requires_scopes(BILLING_READ)])
    async def flagged_page(self, request: Request, tenant_session: TenantSession) -> Response:
        flagged, total = await queue.list_flagged(tenant_session, limit=200)
        return page(request, "mpesa/flagged.html", flagged=flagged, total=total)
