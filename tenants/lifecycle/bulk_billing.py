"""Billing a batch of periods in a handful of statements: the lifecycle's counterpart of
billing.invoices.issue_invoice, for thousands of renewals in one run.

It writes exactly what issue_invoice writes for each period — a numbered invoice with one
line, its ledger debit, allocations of the subscriber's unallocated credit, the invoice
marked paid when covered, and an invoice.issued event — but set-based: one statement per
table for the whole batch. The rules are billing's own: the numbers come from
billing.numbering.reserve_numbers (one block for the batch), the allocations from
billing.allocation's credit_sources and plan_allocations (for every account of the batch at
once). Only the writes differ: issue_invoice goes through the ORM one document at a time,
which for a run's tens of thousands of renewals would cost several statements each. The
lifecycle tests check that both paths number and allocate alike, and the ledger invariant.

The caller holds the accounts' locks (lock_accounts), taken before any service row, in the
same order a payment takes them (account, then its services), so a run and a payment wait
for each other instead of deadlocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.allocation import (
    OpenInvoice,
    credit_sources,
    invoice_remaining_query,
    plan_allocations,
)
from kiunga.tenants.billing.ledger import actor_columns, tenant_currency
from kiunga.tenants.billing.models import (
    Account,
    Allocation,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
)
from kiunga.tenants.billing.numbering import reserve_numbers
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.services.events import emit_many
from sqlalchemy import select, update
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
    numbers = await reserve_numbers(session, "invoice", len(charges))
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


async def _allocate_credit(account_ids: set[int], session: AsyncSession, now: datetime) -> None:
    sources = await credit_sources(session, account_ids)
    if not sources:
        return
    remaining = invoice_remaining_query().subquery()
    rows = await session.execute(
        select(remaining.c.account_id, remaining.c.id, remaining.c.remaining)
        .where(remaining.c.account_id.in_(list(sources)))
        .order_by(remaining.c.issued_at, remaining.c.id)
    )
    open_invoices: dict[int, list[OpenInvoice]] = {}
    for account_id, invoice_id, left in rows:
        open_invoices.setdefault(account_id, []).append(OpenInvoice(invoice_id, int(left)))
    allocations, paid = [], []
    for account_id, account_sources in sources.items():
        planned, covered = plan_allocations(account_sources, open_invoices.get(account_id, []))
        allocations += [
            {
                "invoice_id": p.invoice_id,
                "payment_id": p.payment_id,
                "credit_note_id": p.credit_note_id,
                "amount": p.amount,
            }
            for p in planned
        ]
        paid += covered
    if allocations:
        await session.execute(insert(Allocation), allocations)
    if paid:
        await session.execute(
            update(Invoice)
            .where(Invoice.id.in_(paid))
            .values(status=InvoiceStatus.PAID, paid_at=now)
            .execution_options(synchronize_session=False)
        )
