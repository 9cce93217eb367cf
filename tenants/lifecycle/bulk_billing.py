"""Billing a batch of periods in a handful of statements: the lifecycle's counterpart of
billing.invoices.issue_invoice, for thousands of renewals in one run.

It writes exactly what issue_invoice writes for each period — a numbered invoice with one
line, its ledger debit, allocations of the subscriber's unallocated credit (credit notes
first, then payments, oldest first, to the oldest open invoices), the invoice marked paid
when covered, and an invoice.issued event — but set-based: one statement per table for the
whole batch. The ledger invariant check (billing.invariants) holds after it as after the
one-by-one path, and the lifecycle tests check it.

The caller holds the accounts' locks (lock_accounts), taken before any service row, in the
same order a payment takes them (account, then its services), so a run and a payment wait
for each other instead of deadlocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.allocation import invoice_remaining_query
from kiunga.tenants.billing.ledger import actor_columns, tenant_currency
from kiunga.tenants.billing.models import (
    Account,
    Allocation,
    CreditNote,
    DocumentSequence,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    Payment,
)
from kiunga.tenants.billing.numbering import PREFIXES
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.services.events import emit_many
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class PeriodCharge:
    service_id: int
    subscriber_id: int
    package: Package
    start: datetime
    end: datetime
    due_at: datetime


async def lock_accounts(session: AsyncSession, subscriber_ids: set[int]) -> dict[int, int]:
    """The subscribers' account ids ({subscriber_id: account_id}), created where missing and
    locked until commit, in subscriber order."""
    if not subscriber_ids:
        return {}
    currency = await tenant_currency(session)
    ids = sorted(subscriber_ids)
    await session.execute(
        insert(Account)
        .values([{"subscriber_id": s, "currency": currency} for s in ids])
        .on_conflict_do_nothing(index_elements=[Account.subscriber_id])
    )
    rows = await session.execute(
        select(Account.subscriber_id, Account.id)
        .where(Account.subscriber_id.in_(ids))
        .order_by(Account.subscriber_id)
        .with_for_update()
    )
    return dict(rows.all())


async def _reserve_numbers(session: AsyncSession, count: int) -> list[str]:
    last = await session.scalar(
        insert(DocumentSequence)
        .values(name="invoice", last_value=count)
        .on_conflict_do_update(
            index_elements=[DocumentSequence.name],
            set_={"last_value": DocumentSequence.last_value + count},
        )
        .returning(DocumentSequence.last_value)
    )
    return [f"{PREFIXES['invoice']}-{n:06d}" for n in range(last - count + 1, last + 1)]


def _line_description(charge: PeriodCharge) -> str:
    return (
        f"{charge.package.name}, {charge.start:%d %b %Y %H:%M} to {charge.end:%d %b %Y %H:%M} UTC"
    )


async def issue_period_invoices(
    session: AsyncSession,
    charges: list[PeriodCharge],
    accounts: dict[int, int],
    *,
    now: datetime,
    actor: Actor,
) -> None:
    charges = [c for c in charges if c.package.price > 0]
    if not charges:
        return
    currency = await tenant_currency(session)
    numbers = await _reserve_numbers(session, len(charges))
    who = actor_columns(actor)
    invoice_ids = list(
        await session.scalars(
            insert(Invoice).returning(Invoice.id, sort_by_parameter_order=True),
            [
                {
                    "number": number,
                    "subscriber_id": c.subscriber_id,
                    "account_id": accounts[c.subscriber_id],
                    "currency": currency,
                    "status": InvoiceStatus.ISSUED,
                    "total": c.package.price,
                    "issued_at": now,
                    "due_at": c.due_at,
                    **who,
                }
                for c, number in zip(charges, numbers, strict=True)
            ],
        )
    )
    await session.execute(
        insert(InvoiceLine),
        [
            {
                "invoice_id": invoice_id,
                "position": 0,
                "description": _line_description(c),
                "quantity": 1,
                "unit_price": c.package.price,
                "amount": c.package.price,
                "service_id": c.service_id,
                "period_start": c.start,
                "period_end": c.end,
            }
            for c, invoice_id in zip(charges, invoice_ids, strict=True)
        ],
    )
    await session.execute(
        insert(LedgerEntry),
        [
            {
                "account_id": accounts[c.subscriber_id],
                "kind": EntryKind.INVOICE,
                "amount": -c.package.price,
                "description": f"Invoice {number}",
                "invoice_id": invoice_id,
                **who,
            }
            for c, invoice_id, number in zip(charges, invoice_ids, numbers, strict=True)
        ],
    )
    await _allocate_credit({accounts[c.subscriber_id] for c in charges}, session, now)
    await emit_many(
        session,
        "invoice.issued",
        [
            {"invoice_id": invoice_id, "subscriber_id": c.subscriber_id, "total": c.package.price}
            for c, invoice_id in zip(charges, invoice_ids, strict=True)
        ],
    )


def _used(column):
    return (
        select(column.label("source_id"), func.sum(Allocation.amount).label("used"))
        .where(column.is_not(None))
        .group_by(column)
        .subquery()
    )


async def _credit_sources(session, account_ids) -> dict[int, list[list]]:
    """{account_id: [[payment_id, credit_note_id, invoice_id, remaining], ...]}, in the
    order billing applies them: credit notes, then payments, each oldest first."""
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
    sources: dict[int, list[list]] = {}
    for account_id, note_id, invoice_id, left in notes:
        sources.setdefault(account_id, []).append([None, note_id, invoice_id, int(left)])
    for account_id, payment_id, left in payments:
        sources.setdefault(account_id, []).append([payment_id, None, None, int(left)])
    return sources


async def _allocate_credit(account_ids: set[int], session: AsyncSession, now: datetime) -> None:
    sources = await _credit_sources(session, account_ids)
    if not sources:
        return
    remaining = invoice_remaining_query().subquery()
    rows = await session.execute(
        select(remaining.c.account_id, remaining.c.id, remaining.c.remaining)
        .where(remaining.c.account_id.in_(list(sources)))
        .order_by(remaining.c.issued_at, remaining.c.id)
    )
    open_invoices: dict[int, list[list]] = {}
    for account_id, invoice_id, remaining in rows:
        open_invoices.setdefault(account_id, []).append([invoice_id, int(remaining)])
    allocations, paid = [], []

    def apply(source: list, entry: list) -> None:
        amount = min(source[3], entry[1])
        if amount <= 0:
            return
        allocations.append(
            {
                "invoice_id": entry[0],
                "payment_id": source[0],
                "credit_note_id": source[1],
                "amount": amount,
            }
        )
        source[3] -= amount
        entry[1] -= amount
        if entry[1] == 0:
            paid.append(entry[0])

    for account_id, account_sources in sources.items():
        invoices = open_invoices.get(account_id, [])
        for source in account_sources:
            if source[2] is not None:
                for entry in invoices:
                    if entry[0] == source[2]:
                        apply(source, entry)
            for entry in invoices:
                if source[3] == 0:
                    break
                apply(source, entry)
    if allocations:
        await session.execute(insert(Allocation), allocations)
    if paid:
        await session.execute(
            update(Invoice)
            .where(Invoice.id.in_(paid))
            .values(status=InvoiceStatus.PAID, paid_at=now)
            .execution_options(synchronize_session=False)
        )
