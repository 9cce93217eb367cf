"""Applying payments and credit notes to invoices, oldest invoice first.

Runs under the account's lock (the callers take it), after anything that adds credit or
debt: an issued invoice consumes credit left by an overpayment, a payment pays the oldest
open invoices. An invoice becomes paid exactly when allocations cover its total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.db.base import utcnow
from kiunga.tenants.billing.models import (
    Account,
    Allocation,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Payment,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(slots=True)
class _Source:
    """Unallocated credit from one payment or credit note."""

    payment_id: int | None
    credit_note_id: int | None
    remaining: int
    invoice_id: int | None = None  # a credit note written against one invoice


def allocated_to_invoice():
    return (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("allocated"))
        .group_by(Allocation.invoice_id)
        .subquery()
    )


def invoice_remaining_query():
    """(Invoice, remaining) for open invoices; callers add their filters."""
    allocated = allocated_to_invoice()
    remaining = Invoice.total - func.coalesce(allocated.c.allocated, 0)
    return (
        select(Invoice, remaining.label("remaining"))
        .outerjoin(allocated, allocated.c.invoice_id == Invoice.id)
        .where(Invoice.status == InvoiceStatus.ISSUED)
    )


async def _open_invoices(session: AsyncSession, account: Account) -> list[list]:
    query = invoice_remaining_query().where(Invoice.account_id == account.id)
    rows = await session.execute(query.order_by(Invoice.issued_at, Invoice.id))
    return [[invoice, int(remaining)] for invoice, remaining in rows]


async def _credit_sources(session: AsyncSession, account: Account) -> list[_Source]:
    by_payment = (
        select(Allocation.payment_id, func.sum(Allocation.amount).label("used"))
        .where(Allocation.payment_id.is_not(None))
        .group_by(Allocation.payment_id)
        .subquery()
    )
    payments = await session.execute(
        select(Payment.id, Payment.amount - func.coalesce(by_payment.c.used, 0))
        .outerjoin(by_payment, by_payment.c.payment_id == Payment.id)
        .where(Payment.account_id == account.id)
        .where(Payment.amount > func.coalesce(by_payment.c.used, 0))
        .order_by(Payment.received_at, Payment.id)
    )
    by_note = (
        select(Allocation.credit_note_id, func.sum(Allocation.amount).label("used"))
        .where(Allocation.credit_note_id.is_not(None))
        .group_by(Allocation.credit_note_id)
        .subquery()
    )
    notes = await session.execute(
        select(
            CreditNote.id,
            CreditNote.amount - func.coalesce(by_note.c.used, 0),
            CreditNote.invoice_id,
        )
        .outerjoin(by_note, by_note.c.credit_note_id == CreditNote.id)
        .where(CreditNote.account_id == account.id)
        .where(CreditNote.amount > func.coalesce(by_note.c.used, 0))
        .order_by(CreditNote.issued_at, CreditNote.id)
    )
    sources = [_Source(None, note_id, int(left), invoice_id) for note_id, left, invoice_id in notes]
    sources += [_Source(payment_id, None, int(left)) for payment_id, left in payments]
    return sources


def _apply(session: AsyncSession, source: _Source, entry: list, now: datetime) -> None:
    invoice, remaining = entry
    amount = min(source.remaining, remaining)
    if amount <= 0:
        return
    session.add(
        Allocation(
            invoice_id=invoice.id,
            payment_id=source.payment_id,
            credit_note_id=source.credit_note_id,
            amount=amount,
        )
    )
    source.remaining -= amount
    entry[1] = remaining - amount
    if entry[1] == 0:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now


async def allocate_credit(
    session: AsyncSession, account: Account, *, now: datetime | None = None
) -> None:
    """Apply every unallocated payment and credit note of the account to its open invoices.

    Credit notes go first (a credit note written against an invoice to that invoice first),
    then payments, oldest first, each to the oldest open invoices.
    """
    now = now or utcnow()
    invoices = await _open_invoices(session, account)
    if not invoices:
        return
    sources = await _credit_sources(session, account)
    for source in sources:
        if source.invoice_id is not None:
            for entry in invoices:
                if entry[0].id == source.invoice_id:
                    _apply(session, source, entry, now)
        for entry in invoices:
            if source.remaining == 0:
                break
            _apply(session, source, entry, now)
    await session.flush()
