"""/api/v1/mpesa: settings (mpesa:settings, owners and admins), STK push, requests, the
unmatched queue and flagged callbacks (billing:read / billing:write). A reseller's key is
refused: M-Pesa is the ISP's own till."""

from __future__ import annotations

from kiunga.platform.web.controllers import TenantApiController, action
from kiunga.platform.web.dependencies import (
    CurrentPrincipal,
    CurrentTenant,
    Services,
    TenantSession,
)
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, OptionalId, OptionalText
from kiunga.tenants.billing.api.common import Limit, Offset, actor_of
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from kiunga.tenants.mpesa import config, connection, queue, stk
from kiunga.tenants.mpesa.callbacks_web import callback_routes
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.mpesa.schemas import (
    AssignCreate,
    CallbackPage,
    CallbackRead,
    CheckRead,
    RequestPage,
    RequestRead,
    SettingsRead,
    SettingsWrite,
    StkPushCreate,
    TransactionPage,
    TransactionRead,
)
from kiunga.tenants.mpesa.scopes import MPESA_SETTINGS
from litestar import Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED

GATEWAY_FACTORY_KEY = "mpesa_gateway_factory"


def gateway_factory(request: Request) -> GatewayFactory:
    return request.app.state.get(GATEWAY_FACTORY_KEY) or daraja_gateway


class MpesaController(TenantApiController):
    path = "/api/v1/mpesa"
    tags = ["mpesa"]

    @get("/settings", guards=[requires_scopes(MPESA_SETTINGS)], summary="M-Pesa settings")
    async def read_settings(self, tenant_session: TenantSession) -> SettingsRead:
        return SettingsRead.of(config.settings_view(await config.settings_row(tenant_session)))

    @put(
        "/settings",
        guards=[requires_scopes(MPESA_SETTINGS)],
        summary="Change them (secrets are write-only; leave a field out to keep it)",
    )
    async def write_settings(
        self, request: Request, tenant_session: TenantSession, data: JSONBody[SettingsWrite]
    ) -> SettingsRead:
        change = config.SettingsChange(**{f: getattr(data, f) for f in data.__struct_fields__})
        row = await config.update_settings(tenant_session, change)
        await tenant_session.commit()
        callback_routes(request).forget()  # the source allowlist may have changed
        return SettingsRead.of(config.settings_view(row))

    @action(
        "/settings/test-connection",
        MPESA_SETTINGS,
        summary="Ask Daraja for a token with the saved consumer key and secret",
    )
    async def test_connection(
        self, request: Request, services: Services, tenant: CurrentTenant
    ) -> CheckRead:
        result = await connection.test_connection(
            services.database, tenant.schema, gateway_factory=gateway_factory(request)
        )
        return CheckRead(result.ok, result.message)

    @action(
        "/settings/rotate-callback-token",
        MPESA_SETTINGS,
        summary="New callback URLs (the old ones stop working); registers the C2B URLs again",
    )
    async def rotate_token(
        self, request: Request, services: Services, tenant: CurrentTenant
    ) -> CheckRead:
        result = await connection.rotate_and_register(
            services.database,
            tenant.schema,
            tenant.id,
            gateway_factory=gateway_factory(request),
        )
        callback_routes(request).forget()
        async with services.database.tenant_session(tenant.schema) as session:
            view = config.settings_view(await config.settings_row(session))
        return CheckRead(result.ok, result.message, SettingsRead.of(view).callback_urls)

    @action(
        "/settings/register-c2b",
        MPESA_SETTINGS,
        summary="Register the C2B validation and confirmation URLs with Daraja",
    )
    async def register_c2b(
        self, request: Request, services: Services, tenant: CurrentTenant
    ) -> CheckRead:
        result = await connection.register_c2b(
            services.database, tenant.schema, gateway_factory=gateway_factory(request)
        )
        return CheckRead(result.ok, result.message)

    @post(
        "/stk-push",
        guards=[requires_scopes(BILLING_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Ask a subscriber to pay: an STK push to their phone",
    )
    async def stk_push(
        self,
        request: Request,
        services: Services,
        tenant: CurrentTenant,
        principal: CurrentPrincipal,
        data: JSONBody[StkPushCreate],
    ) -> RequestRead:
        ask = stk.PaymentAsk(
            phone=data.phone,
            amount=data.amount,
            subscriber_id=data.subscriber_id,
            account_number=data.account_number,
        )
        created = await stk.request_payment(
            services.database,
            tenant.schema,
            ask,
            actor=actor_of(principal),
            gateway_factory=gateway_factory(request),
        )
        return RequestRead.of(created)

    @get("/requests", guards=[requires_scopes(BILLING_READ)], summary="STK requests, newest first")
    async def list_requests(
        self,
        tenant_session: TenantSession,
        status: FromQuery[OptionalText] = None,
        subscriber_id: FromQuery[OptionalId] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RequestPage:
        wanted = None
        if status:
            try:
                wanted = RequestStatus(status)
            except ValueError:
                choices = ", ".join(s.value for s in RequestStatus)
                raise FieldError("status", f"status must be one of {choices}") from None
        rows, total = await stk.list_requests(
            tenant_session, status=wanted, subscriber_id=subscriber_id, limit=limit, offset=offset
        )
        return RequestPage([RequestRead.of(r) for r in rows], total, limit, offset)

    @get("/requests/{request_id:int}", guards=[requires_scopes(BILLING_READ)], summary="A request")
    async def get_request(
        self, tenant_session: TenantSession, request_id: FromPath[Id]
    ) -> RequestRead:
        found = await tenant_session.get(MpesaRequest, request_id)
        if found is None:
            raise FieldError("request_id", f"no request with id {request_id}", status_code=404)
        return RequestRead.of(found)

    @get(
        "/unmatched",
        guards=[requires_scopes(BILLING_READ)],
        summary="Payments waiting for staff to assign them to an account",
    )
    async def list_unmatched(
        self, tenant_session: TenantSession, limit: Limit = 50, offset: Offset = 0
    ) -> TransactionPage:
        rows, total = await queue.list_unmatched(tenant_session, limit=limit, offset=offset)
        return TransactionPage([TransactionRead.of(r) for r in rows], total, limit, offset)

    @action(
        "/unmatched/{transaction_id:int}/assign",
        BILLING_WRITE,
        summary="Credit a waiting payment to an account (restores service like any payment)",
    )
    async def assign(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        transaction_id: FromPath[Id],
        data: JSONBody[AssignCreate],
    ) -> TransactionRead:
        transaction = await queue.assign_unmatched(
            tenant_session, transaction_id, data.account_number, actor=actor_of(principal)
        )
        return TransactionRead.of(transaction)

    @get(
        "/flagged",
        guards=[requires_scopes(BILLING_READ)],
        summary="Callbacks recorded for a person to look at (nothing was credited by them)",
    )
    async def list_flagged(
        self, tenant_session: TenantSession, limit: Limit = 50, offset: Offset = 0
    ) -> CallbackPage:
        rows, total = await queue.list_flagged(tenant_session, limit=limit, offset=offset)
        return CallbackPage([CallbackRead.of(r) for r in rows], total, limit, offset)
