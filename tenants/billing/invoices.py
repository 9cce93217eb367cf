"""Invoices: drafted with lines, issued (numbered, debited), paid by allocations, or voided.

Issuing posts one debit entry for the total and then applies any credit the subscriber
already has (an earlier overpayment or a credit note), so prepaid money is used at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.allocation import allocate_credit, invoice_remaining_query
from kiunga.tenants.billing.errors import (
    BillingError,
    NotFound,
    money,
    positive_count,
    required_text,
)
from kiunga.tenants.billing.ledger import account_for, actor_columns, number_and_post, post_entry
from kiunga.tenants.billing.models import (
    Account,
    Allocation,
    EntryKind,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LINES = 100


@dataclass(frozen=True)
class InvoiceLineInput:
    description: str
    quantity: int
    unit_price: int
    service_id: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


def _build_lines(lines: Sequence[InvoiceLineInput]) -> list[InvoiceLine]:
    if not lines:
        raise BillingError("lines", "an invoice needs at least one line")
    if len(lines) > MAX_LINES:
        raise BillingError("lines", f"an invoice has at most {MAX_LINES} lines")
    built = []
    for position, line in enumerate(lines):
        field = f"lines[{position}]"
        description = required_text(line.description, f"{field}.description", max_length=300)
        quantity = positive_count(line.quantity, f"{field}.quantity")
        if type(line.unit_price) is int and line.unit_price == 0:
            unit_price = 0  # a free line (an included item) is allowed; a free invoice is not
        else:
            unit_price = money(line.unit_price, f"{field}.unit_price")
        if line.period_start and line.period_end and line.period_end < line.period_start:
            raise BillingError(f"{field}.period_end", "period_end is before period_start")
        built.append(
            InvoiceLine(
                position=position,
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                amount=quantity * unit_price,
                service_id=line.service_id,
                period_start=line.period_start,
                period_end=line.period_end,
            )
        )
    if sum(line.amount for line in built) <= 0:
        raise BillingError("lines", "an invoice must total more than zero")
    return built


async def create_draft(
    session: AsyncSession,
    subscriber_id: int,
    lines: Sequence[InvoiceLineInput],
    *,
    due_at: datetime,
    actor: Actor,
) -> Invoice:
    """An unnumbered invoice that touches no balance until it is issued."""
    built = _build_lines(lines)
    account = await account_for(session, subscriber_id)
    invoice = Invoice(
        subscriber_id=subscriber_id,
        account_id=account.id,
        currency=account.currency,
        status=InvoiceStatus.DRAFT,
        total=sum(line.amount for line in built),
        due_at=due_at,
        lines=built,
        **actor_columns(actor),
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def issue_draft(
    session: AsyncSession, invoice_id: int, *, actor: Actor, issued_at: datetime | None = None
) -> Invoice:
    invoice = await get_invoice(session, invoice_id)
    account = await account_for(session, invoice.subscriber_id, lock=True)
    await session.refresh(invoice, with_for_update=True)
    return await _issue(session, invoice, account, actor=actor, issued_at=issued_at)


async def _issue(
    session: AsyncSession,
    invoice: Invoice,
    account: Account,
    *,
    actor: Actor,
    issued_at: datetime | None,
) -> Invoice:
    """Number and post a draft whose row the caller holds, under the account's lock."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise BillingError("status", f"invoice is {invoice.status.value}, not a draft")
    issued_at = issued_at or utcnow()
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = issued_at
    await number_and_post(
        session,
        "invoice",
        invoice,
        "number",
        account,
        EntryKind.INVOICE,
        -invoice.total,
        describe=lambda number: f"Invoice {number}",
        actor=actor,
        invoice_id=invoice.id,
    )
    await allocate_credit(session, account, now=issued_at)
    await emit(
        session,
        "invoice.issued",
        {"invoice_id": invoice.id, "subscriber_id": invoice.subscriber_id, "total": invoice.total},
    )
    return invoice


async def issue_invoice(
    session: AsyncSession,
    subscriber_id: int,
    lines: Sequence[InvoiceLineInput],
    *,
    due_at: datetime,
    actor: Actor,
    issued_at: datetime | None = None,
) -> Invoice:
    """Create, number and post an invoice, then apply the subscriber's unallocated credit."""
    account = await account_for(session, subscriber_id, lock=True)
    draft = await create_draft(session, subscriber_id, lines, due_at=due_at, actor=actor)
    # Written just now in this transaction: nobody else can see it to change it.
    return await _issue(session, draft, account, actor=actor, issued_at=issued_at)


async def void_invoice(
    session: AsyncSession, invoice_id: int, *, reason: str, actor: Actor
) -> Invoice:
    """Cancel an invoice. An issued one is reversed by a credit entry; one that has
    allocations is refused (issue a credit note instead, so the payment trail stays)."""
    reason = required_text(reason, "reason")
    invoice = await get_invoice(session, invoice_id)
    account = await account_for(session, invoice.subscriber_id, lock=True)
    await session.refresh(invoice, with_for_update=True)
    if invoice.status == InvoiceStatus.VOID:
        raise BillingError("status", "invoice is already void")
    allocated = await session.scalar(
        select(func.count()).select_from(Allocation).where(Allocation.invoice_id == invoice.id)
    )
    if allocated:
        raise BillingError(
            "invoice_id",
            "payments or credit notes are applied to this invoice; issue a credit note instead",
        )
    was_issued = invoice.status == InvoiceStatus.ISSUED
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = utcnow()
    invoice.void_reason = reason
    await session.flush()
    if was_issued:
        await post_entry(
            session,
            account,
            EntryKind.INVOICE_VOID,
            invoice.total,
            description=f"Invoice {invoice.number} voided: {reason}",
            actor=actor,
            invoice_id=invoice.id,
        )
        await emit(
            session,
            "invoice.voided",
            {"invoice_id": invoice.id, "subscriber_id": invoice.subscriber_id},
        )
    return invoice


async def get_invoice(session: AsyncSession, invoice_id: int) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("invoice_id", f"no invoice with id {invoice_id}")
    return invoice


async def invoice_allocations(session: AsyncSession, invoice_id: int) -> list[Allocation]:
    query = select(Allocation).where(Allocation.invoice_id == invoice_id).order_by(Allocation.id)
    return list(await session.scalars(query))


@cache
def _remaining_sum_statement(until_due: bool):
    """Built once per shape, its values bound at each call: building the statement (a
    subquery over the whole invoice row) and its cache key cost more than running it, on a
    path every account screen and payment takes."""
    rows = invoice_remaining_query().where(Invoice.subscriber_id == bindparam("subscriber_id"))
    if until_due:
        rows = rows.where(Invoice.due_at <= bindparam("as_of"))
    inner = rows.subquery()
    return select(func.coalesce(func.sum(inner.c.remaining), 0))


async def _remaining_sum(session: AsyncSession, subscriber_id: int, as_of=None) -> int:
    statement = _remaining_sum_statement(as_of is not None)
    values = {"subscriber_id": subscriber_id, "as_of": as_of}
    if as_of is None:
        del values["as_of"]
    return int(await session.scalar(statement, values))


async def amount_due(session: AsyncSession, subscriber_id: int, *, as_of: datetime) -> int:
    """What is left to pay on issued invoices due by `as_of` (0 when nothing is due)."""
    return await _remaining_sum(session, subscriber_id, as_of)


async def open_amount(session: AsyncSession, subscriber_id: int) -> int:
    """What is left to pay on every open invoice, due or not."""
    return await _remaining_sum(session, subscriber_id)
