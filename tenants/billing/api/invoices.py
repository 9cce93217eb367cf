"""/api/v1/invoices: list, read, draft, issue and void invoices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from kiunga.platform.auth.fence import fence_of
from kiunga.platform.web.controllers import action
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, OptionalId
from kiunga.tenants.billing import invoices, queries
from kiunga.tenants.billing.api.common import (
    BillingApiController,
    Limit,
    Offset,
    actor_of,
    ensure_visible,
)
from kiunga.tenants.billing.models import InvoiceStatus
from kiunga.tenants.billing.schemas import InvoiceCreate, InvoicePage, InvoiceRead, InvoiceVoid
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession


async def invoice_read(session: AsyncSession, invoice, *, with_allocations: bool = False):
    allocations = await invoices.invoice_allocations(session, invoice.id)
    allocated = sum(a.amount for a in allocations)
    return InvoiceRead.of(invoice, allocated, allocations if with_allocations else None)


async def _visible_invoice(session, principal, invoice_id: int):
    invoice = await invoices.get_invoice(session, invoice_id)
    await ensure_visible(session, principal, invoice.subscriber_id, field="invoice_id")
    return invoice


class InvoiceController(BillingApiController):
    path = "/api/v1/invoices"

    @get(guards=[requires_scopes(BILLING_READ)], summary="List invoices, newest first")
    async def list_invoices(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromQuery[OptionalId] = None,
        status: FromQuery[InvoiceStatus | None] = None,
        issued_from: Annotated[
            datetime | None, QueryParameter(description="issued at or after")
        ] = None,
        issued_to: Annotated[datetime | None, QueryParameter(description="issued before")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> InvoicePage:
        filters = queries.DocumentFilters(
            subscriber_id=subscriber_id,
            status=status,
            date_from=issued_from,
            date_to=issued_to,
            reseller_id=fence_of(principal),
        )
        rows, total = await queries.list_invoices(
            tenant_session, filters, limit=limit, offset=offset
        )
        allocated = await queries.allocated_by_invoice(tenant_session, [i.id for i in rows])
        items = [InvoiceRead.of(i, allocated.get(i.id, 0)) for i in rows]
        return InvoicePage(items=items, total=total, limit=limit, offset=offset)

    @post(guards=[requires_scopes(BILLING_WRITE)], summary="Create an invoice (draft or issued)")
    async def create_invoice(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[InvoiceCreate],
    ) -> InvoiceRead:
        await ensure_visible(tenant_session, principal, data.subscriber_id, field="subscriber_id")
        lines = [
            invoices.InvoiceLineInput(
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                service_id=line.service_id,
                period_start=line.period_start,
                period_end=line.period_end,
            )
            for line in data.lines
        ]
        make = invoices.issue_invoice if data.issue else invoices.create_draft
        invoice = await make(
            tenant_session,
            data.subscriber_id,
            lines,
            due_at=data.due_at,
            actor=actor_of(principal),
        )
        return await invoice_read(tenant_session, invoice, with_allocations=True)

    @get("/{invoice_id:int}", guards=[requires_scopes(BILLING_READ)], summary="Get an invoice")
    async def get_invoice(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, invoice_id: FromPath[Id]
    ) -> InvoiceRead:
        invoice = await _visible_invoice(tenant_session, principal, invoice_id)
        return await invoice_read(tenant_session, invoice, with_allocations=True)

    @action(
        "/{invoice_id:int}/issue",
        BILLING_WRITE,
        summary="Issue a draft: number it and post it to the ledger",
    )
    async def issue(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, invoice_id: FromPath[Id]
    ) -> InvoiceRead:
        await _visible_invoice(tenant_session, principal, invoice_id)
        invoice = await invoices.issue_draft(tenant_session, invoice_id, actor=actor_of(principal))
        return await invoice_read(tenant_session, invoice, with_allocations=True)

    @action(
        "/{invoice_id:int}/void",
        BILLING_WRITE,
        summary="Void an invoice nothing has been applied to",
    )
    async def void(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        invoice_id: FromPath[Id],
        data: JSONBody[InvoiceVoid],
    ) -> InvoiceRead:
        await _visible_invoice(tenant_session, principal, invoice_id)
        invoice = await invoices.void_invoice(
            tenant_session, invoice_id, reason=data.reason, actor=actor_of(principal)
        )
        return await invoice_read(tenant_session, invoice, with_allocations=True)
