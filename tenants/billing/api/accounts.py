"""/api/v1/subscribers/{id}/statement and /balance: a subscriber's money at a glance."""

from __future__ import annotations

from kiunga.platform.db.base import utcnow
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.guards import requires_scopes, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.billing import invoices, ledger
from kiunga.tenants.billing.api.common import BillingApiController, ensure_visible
from kiunga.tenants.billing.schemas import BalanceRead, StatementEntryRead, StatementRead
from kiunga.tenants.billing.scopes import BILLING_READ
from litestar import get
from litestar.params import FromPath


class SubscriberAccountController(BillingApiController):
    path = "/api/v1/subscribers/{subscriber_id:int}"
    guards = [tenant_only, requires_scopes(BILLING_READ)]

    @get("/balance", summary="A subscriber's balance, open and due amounts")
    async def balance(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
    ) -> BalanceRead:
        await ensure_visible(tenant_session, principal, subscriber_id, field="subscriber_id")
        currency = await ledger.currency_of(tenant_session, subscriber_id)
        return BalanceRead(
            subscriber_id=subscriber_id,
            currency=currency,
            balance=await ledger.balance(tenant_session, subscriber_id),
            open_amount=await invoices.open_amount(tenant_session, subscriber_id),
            amount_due=await invoices.amount_due(tenant_session, subscriber_id, as_of=utcnow()),
        )

    @get("/statement", summary="A subscriber's ledger entries with the running balance")
    async def statement(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
    ) -> StatementRead:
        await ensure_visible(tenant_session, principal, subscriber_id, field="subscriber_id")
        currency = await ledger.currency_of(tenant_session, subscriber_id)
        lines = await ledger.statement(tenant_session, subscriber_id)
        return StatementRead(
            subscriber_id=subscriber_id,
            currency=currency,
            balance=await ledger.balance(tenant_session, subscriber_id),
            entries=[StatementEntryRead.of(line) for line in lines],
        )
