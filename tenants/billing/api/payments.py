"""/api/v1/payments, /api/v1/credit-notes, /api/v1/adjustments."""

from __future__ import annotations

from datetime import datetime

from kiunga.platform.auth.fence import fence_of
from kiunga.platform.db.base import utcnow
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, OptionalId
from kiunga.tenants.billing import adjustments, payments, queries
from kiunga.tenants.billing.api.common import (
    BillingApiController,
    Limit,
    Offset,
    actor_of,
    ensure_visible,
)
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.billing.schemas import (
    AdjustmentCreate,
    AdjustmentPage,
    AdjustmentRead,
    CreditNoteCreate,
    CreditNotePage,
    CreditNoteRead,
    PaymentCreate,
    PaymentPage,
    PaymentRead,
)
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from litestar import Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession


async def payment_read(session: AsyncSession, payment: Payment) -> PaymentRead:
    allocations = await queries.allocations_of_payment(session, payment.id)
    return PaymentRead.of(payment, sum(a.amount for a in allocations), allocations)


async def _documents(listing, session, principal, subscriber_id, limit, offset):
    """A page of credit notes or adjustments, one subscriber's or all, inside the caller's
    fence. `listing`: the query, the read schema and the page schema."""
    query, read, page = listing
    filters = queries.DocumentFilters(subscriber_id=subscriber_id, reseller_id=fence_of(principal))
    rows, total = await query(session, filters, limit=limit, offset=offset)
    return page(items=[read.of(row) for row in rows], total=total, limit=limit, offset=offset)


class PaymentController(BillingApiController):
    path = "/api/v1/payments"

    @get(guards=[requires_scopes(BILLING_READ)], summary="List payments, newest first")
    async def list_payments(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromQuery[OptionalId] = None,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> PaymentPage:
        filters = queries.DocumentFilters(
            subscriber_id=subscriber_id,
            date_from=received_from,
            date_to=received_to,
            reseller_id=fence_of(principal),
        )
        rows, total = await queries.list_payments(
            tenant_session, filters, limit=limit, offset=offset
        )
        allocated = await queries.allocated_by_payment(tenant_session, [p.id for p in rows])
        items = [PaymentRead.of(p, allocated.get(p.id, 0)) for p in rows]
        return PaymentPage(items=items, total=total, limit=limit, offset=offset)

    @post(
        guards=[requires_scopes(BILLING_WRITE)],
        summary="Record a payment (a repeated reference answers 200 with the first one)",
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=PaymentRead, description="Already recorded under this reference"
            )
        },
    )
    async def record_payment(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[PaymentCreate],
    ) -> Response[PaymentRead]:
        await ensure_visible(tenant_session, principal, data.subscriber_id, field="subscriber_id")
        outcome = await payments.record_payment(
            tenant_session,
            data.subscriber_id,
            data.amount,
            method=data.method,
            reference=data.reference,
            received_at=data.received_at or utcnow(),
            actor=actor_of(principal),
            payer_phone=data.payer_phone,
        )
        status = HTTP_201_CREATED if outcome.created else HTTP_200_OK
        body = await payment_read(tenant_session, outcome.payment)
        return Response(body, status_code=status)

    @get("/{payment_id:int}", guards=[requires_scopes(BILLING_READ)], summary="Get a payment")
    async def get_payment(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, payment_id: FromPath[Id]
    ) -> PaymentRead:
        payment = await payments.get_payment(tenant_session, payment_id)
        await ensure_visible(tenant_session, principal, payment.subscriber_id, field="payment_id")
        return await payment_read(tenant_session, payment)


class CreditNoteController(BillingApiController):
    path = "/api/v1/credit-notes"

    @get(guards=[requires_scopes(BILLING_READ)], summary="List credit notes, newest first")
    async def list_credit_notes(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromQuery[OptionalId] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> CreditNotePage:
        listing = (queries.list_credit_notes, CreditNoteRead, CreditNotePage)
        return await _documents(listing, tenant_session, principal, subscriber_id, limit, offset)

    @post(guards=[requires_scopes(BILLING_WRITE)], summary="Issue a credit note")
    async def issue_credit_note(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[CreditNoteCreate],
    ) -> CreditNoteRead:
        await ensure_visible(tenant_session, principal, data.subscriber_id, field="subscriber_id")
        note = await adjustments.issue_credit_note(
            tenant_session,
            data.subscriber_id,
            data.amount,
            reason=data.reason,
            actor=actor_of(principal),
            invoice_id=data.invoice_id,
        )
        return CreditNoteRead.of(note)


class AdjustmentController(BillingApiController):
    path = "/api/v1/adjustments"

    @get(guards=[requires_scopes(BILLING_READ)], summary="List adjustments, newest first")
    async def list_adjustments(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromQuery[OptionalId] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> AdjustmentPage:
        listing = (queries.list_adjustments, AdjustmentRead, AdjustmentPage)
        return await _documents(listing, tenant_session, principal, subscriber_id, limit, offset)

    @post(
        guards=[requires_scopes(BILLING_WRITE)],
        summary="Adjust a balance (> 0 credits, < 0 debits) with a reason",
    )
    async def post_adjustment(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[AdjustmentCreate],
    ) -> AdjustmentRead:
        await ensure_visible(tenant_session, principal, data.subscriber_id, field="subscriber_id")
        adjustment = await adjustments.post_adjustment(
            tenant_session,
            data.subscriber_id,
            data.amount,
            reason=data.reason,
            actor=actor_of(principal),
        )
        return AdjustmentRead.of(adjustment)
