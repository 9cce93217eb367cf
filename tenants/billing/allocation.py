"""Applying payments and credit notes to invoices, oldest invoice first.

Runs under the account's lock (the callers take it), after anything that adds credit or
debt: an issued invoice consumes credit left by an overpayment, a payment pays the oldest
open invoices. An invoice becomes paid exactly when allocations cover its total.

The rules live in two functions that both paths use: `credit_sources` (what credit is left,
in the order it is applied) and `plan_allocations` (which invoice each amount goes to).
`allocate_credit` applies them to one account; the lifecycle's batch billing
(lifecycle.bulk_billing) applies them to thousands of accounts with a handful of statements.
"""

from __future__ import annotations

from collections.abc import Collection
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
from sqlalchemy.orm import raiseload


@dataclass(slots=True)
class CreditSource:
    """Unallocated credit from one payment or credit note."""

    payment_id: int | None
    credit_note_id: int | None
    remaining: int
    invoice_id: int | None = None  # a credit note written against one invoice


@dataclass(slots=True)
class OpenInvoice:
    id: int
    remaining: int


@dataclass(frozen=True, slots=True)
class PlannedAllocation:
    invoice_id: int
    payment_id: int | None
    credit_note_id: int | None
    amount: int


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


def _used(column):
    return (
        select(column.label("source_id"), func.sum(Allocation.amount).label("used"))
        .where(column.is_not(None))
        .group_by(column)
        .subquery()
    )


async def credit_sources(
    session: AsyncSession, account_ids: Collection[int]
) -> dict[int, list[CreditSource]]:
    """{account_id: its unallocated credit} for the accounts that have any, in the order it
    is applied: credit notes, then payments, each oldest first."""
    by_note, by_payment = _used(Allocation.credit_note_id), _used(Allocation.payment_id)
    notes = await session.execute(
        select(
            CreditNote.account_id,
            CreditNote.id,
            CreditNote.invoice_id,
            CreditNote.amount - func.coalesce(by_note.c.used, 0),
        )
        .outerjoin(by_note, by_note.c.source_id == CreditNote.id)
        .where(CreditNote.account_id.in_(account_ids))
        .where(CreditNote.amount > func.coalesce(by_note.c.used, 0))
        .order_by(CreditNote.issued_at, CreditNote.id)
    )
    payments = await session.execute(
        select(Payment.account_id, Payment.id, Payment.amount - func.coalesce(by_payment.c.used, 0))
        .outerjoin(by_payment, by_payment.c.source_id == Payment.id)
        .where(Payment.account_id.in_(account_ids))
        .where(Payment.amount > func.coalesce(by_payment.c.used, 0))
        .order_by(Payment.received_at, Payment.id)
    )
    sources: dict[int, list[CreditSource]] = {}
    for account_id, note_id, invoice_id, left in notes:
        sources.setdefault(account_id, []).append(
            CreditSource(None, note_id, int(left), invoice_id)
        )
    for account_id, payment_id, left in payments:
        sources.setdefault(account_id, []).append(CreditSource(payment_id, None, int(left)))
    return sources


def plan_allocations(
    sources: list[CreditSource], invoices: list[OpenInvoice]
) -> tuple[list[PlannedAllocation], list[int]]:
    """Where one account's credit goes, and which invoices it covers completely.

    `invoices` are the account's open invoices, oldest first. Each source in turn (credit
    notes, then payments, as credit_sources orders them) goes first to the invoice it was
    written against, if any, then to the oldest invoices with something left to pay. The
    sources' and invoices' remaining amounts are reduced as they are used.
    """
    planned: list[PlannedAllocation] = []
    covered: list[int] = []

    def apply(source: CreditSource, invoice: OpenInvoice) -> None:
        amount = min(source.remaining, invoice.remaining)
        if amount <= 0:
            return
        planned.append(
            PlannedAllocation(invoice.id, source.payment_id, source.credit_note_id, amount)
        )
        source.remaining -= amount
        invoice.remaining -= amount
        if invoice.remaining == 0:
            covered.append(invoice.id)

    for source in sources:
        if source.invoice_id is not None:
            for invoice in invoices:
                if invoice.id == source.invoice_id:
                    apply(source, invoice)
        for invoice in invoices:
            if source.remaining == 0:
                break
            apply(source, invoice)
    return planned, covered


async def allocate_credit(
    session: AsyncSession, account: Account, *, now: datetime | None = None
) -> None:
    """Apply every unallocated payment and credit note of the account to its open invoices."""
    now = now or utcnow()
    rows = await session.execute(
        invoice_remaining_query()
        .where(Invoice.account_id == account.id)
        .order_by(Invoice.issued_at, Invoice.id)
        # Only status and totals are needed here: loading the lines would cost a statement.
        .options(raiseload(Invoice.lines))
    )
    loaded = {}
    open_invoices = []
    for invoice, remaining in rows:
        loaded[invoice.id] = invoice
        open_invoices.append(OpenInvoice(invoice.id, int(remaining)))
    if not open_invoices:
        return
    sources = (await credit_sources(session, [account.id])).get(account.id, [])
    planned, covered = plan_allocations(sources, open_invoices)
    for allocation in planned:
        session.add(
            Allocation(
                invoice_id=allocation.invoice_id,
                payment_id=allocation.payment_id,
                credit_note_id=allocation.credit_note_id,
                amount=allocation.amount,
            )
        )
    for invoice_id in covered:
        loaded[invoice_id].status = InvoiceStatus.PAID
        loaded[invoice_id].paid_at = now
    await session.flush()
