"""Read side of billing: filtered, paginated lists for the API and console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.auth.fence import Fence
from kiunga.tenants.billing.models import (
    Adjustment,
    Allocation,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
)
from kiunga.tenants.subscribers.fence import confine_by_subscriber
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class DocumentFilters:
    subscriber_id: int | None = None
    status: InvoiceStatus | None = None
    # On the document's own date: issued_at for invoices, received_at for payments.
    date_from: datetime | None = None
    date_to: datetime | None = None
    # A reseller's key (or an agent) sees only its own subscribers' money.
    reseller_id: int | None = None


async def _page(session: AsyncSession, query: Select, order, limit: int, offset: int):
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def _filtered(model, dated, filters: DocumentFilters) -> Select:
    query = select(model)
    if filters.subscriber_id is not None:
        query = query.where(model.subscriber_id == filters.subscriber_id)
    if filters.date_from is not None:
        query = query.where(dated >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(dated < filters.date_to)
    return confine_by_subscriber(Fence(filters.reseller_id), query, model.subscriber_id)


async def list_invoices(
    session: AsyncSession, filters: DocumentFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Invoice], int]:
    query = _filtered(Invoice, Invoice.issued_at, filters)
    if filters.status is not None:
        query = query.where(Invoice.status == filters.status)
    order = (Invoice.issued_at.desc().nulls_first(), Invoice.id.desc())
    return await _page(session, query, order, limit, offset)


async def list_payments(
    session: AsyncSession, filters: DocumentFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Payment], int]:
    query = _filtered(Payment, Payment.received_at, filters)
    return await _page(
        session, query, (Payment.received_at.desc(), Payment.id.desc()), limit, offset
    )


async def list_credit_notes(
    session: AsyncSession, filters: DocumentFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[CreditNote], int]:
    query = _filtered(CreditNote, CreditNote.issued_at, filters)
    return await _page(session, query, (CreditNote.id.desc(),), limit, offset)


async def list_adjustments(
    session: AsyncSession, filters: DocumentFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[Adjustment], int]:
    query = _filtered(Adjustment, Adjustment.created_at, filters)
    return await _page(session, query, (Adjustment.id.desc(),), limit, offset)


async def allocated_by_invoice(session: AsyncSession, invoice_ids: list[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(Allocation.invoice_id, func.sum(Allocation.amount))
        .where(Allocation.invoice_id.in_(invoice_ids))
        .group_by(Allocation.invoice_id)
    )
    return {invoice_id: int(amount) for invoice_id, amount in rows}


async def allocated_by_payment(session: AsyncSession, payment_ids: list[int]) -> dict[int, int]:
    if not payment_ids:
        return {}
    rows = await session.execute(
        select(Allocation.payment_id, func.sum(Allocation.amount))
        .where(Allocation.payment_id.in_(payment_ids))
        .group_by(Allocation.payment_id)
    )
    return {payment_id: int(amount) for payment_id, amount in rows}


async def allocations_of_payment(session: AsyncSession, payment_id: int) -> list[Allocation]:
    query = select(Allocation).where(Allocation.payment_id == payment_id).order_by(Allocation.id)
    return list(await session.scalars(query))


async def count_open_invoices(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Invoice).where(Invoice.status == InvoiceStatus.ISSUED)
    return int(await session.scalar(query) or 0)
