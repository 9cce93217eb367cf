"""`assert_ledger_invariants(session)`: what must hold for a tenant's money, always.

Tests call it at the end of every scenario that touches money. It reads everything, so it
is for tests and audits of small data sets, not for request paths.
"""

from __future__ import annotations

from collections import defaultdict

from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.tenants.billing.models import (
    Account,
    Adjustment,
    Allocation,
    CreditNote,
    EntryKind,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Payment,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

_TRIGGERS = text(
    """
    SELECT t.tgname, t.tgenabled FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relname = 'ledger_entries' AND c.relnamespace = CAST(:schema AS regnamespace)
      AND NOT t.tgisinternal
    """
)


async def _all(session: AsyncSession, model):
    return list(await session.scalars(select(model)))


async def assert_ledger_invariants(session: AsyncSession) -> dict[int, int]:
    """Raise AssertionError naming the first broken rule; return {subscriber_id: balance}."""
    await session.flush()
    accounts = await _all(session, Account)
    entries = await _all(session, LedgerEntry)
    invoices = await _all(session, Invoice)
    payments = await _all(session, Payment)
    notes = await _all(session, CreditNote)
    adjustments = await _all(session, Adjustment)
    allocations = await _all(session, Allocation)

    entry_sum: dict[int, int] = defaultdict(int)
    by_document: dict[tuple[str, int], list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        assert entry.amount != 0, f"entry {entry.id} is zero"
        entry_sum[entry.account_id] += entry.amount
        for key in ("invoice_id", "payment_id", "credit_note_id", "adjustment_id"):
            if getattr(entry, key) is not None:
                by_document[key, getattr(entry, key)].append(entry)

    derived: dict[int, int] = defaultdict(int)
    allocated_to: dict[int, int] = defaultdict(int)
    used_payment: dict[int, int] = defaultdict(int)
    used_note: dict[int, int] = defaultdict(int)
    for allocation in allocations:
        assert allocation.amount > 0, f"allocation {allocation.id} is not positive"
        allocated_to[allocation.invoice_id] += allocation.amount
        if allocation.payment_id is not None:
            used_payment[allocation.payment_id] += allocation.amount
        else:
            used_note[allocation.credit_note_id] += allocation.amount

    for invoice in invoices:
        own = by_document["invoice_id", invoice.id]
        line_total = sum(line.amount for line in invoice.lines)
        assert invoice.total == line_total, f"invoice {invoice.id} total != its lines"
        for line in invoice.lines:
            assert line.amount == line.quantity * line.unit_price, f"line {line.id} amount"
        allocated = allocated_to[invoice.id]
        assert allocated <= invoice.total, f"invoice {invoice.id} over-allocated"
        if invoice.status == InvoiceStatus.DRAFT:
            assert not own and not allocated, f"draft invoice {invoice.id} touched money"
            continue
        if invoice.issued_at is None:  # a draft voided before it was issued
            assert not own and not allocated, f"unissued invoice {invoice.id} touched money"
            continue
        debits = [e for e in own if e.kind == EntryKind.INVOICE]
        assert [e.amount for e in debits] == [-invoice.total], f"invoice {invoice.id} debit"
        reversals = [e for e in own if e.kind == EntryKind.INVOICE_VOID]
        if invoice.status == InvoiceStatus.VOID:
            assert [e.amount for e in reversals] == [invoice.total], f"void {invoice.id}"
            assert allocated == 0, f"void invoice {invoice.id} has allocations"
        else:
            assert not reversals, f"invoice {invoice.id} reversed but not void"
            derived[invoice.account_id] -= invoice.total
            paid = invoice.status == InvoiceStatus.PAID
            assert paid == (allocated == invoice.total), (
                f"invoice {invoice.id} is {invoice.status.value} with {allocated} of "
                f"{invoice.total} allocated"
            )

    for payment in payments:
        own = by_document["payment_id", payment.id]
        assert [e.amount for e in own] == [payment.amount], f"payment {payment.id} entry"
        assert used_payment[payment.id] <= payment.amount, f"payment {payment.id} over-used"
        derived[payment.account_id] += payment.amount
    for note in notes:
        own = by_document["credit_note_id", note.id]
        assert [e.amount for e in own] == [note.amount], f"credit note {note.id} entry"
        assert used_note[note.id] <= note.amount, f"credit note {note.id} over-used"
        derived[note.account_id] += note.amount
    for adjustment in adjustments:
        own = by_document["adjustment_id", adjustment.id]
        assert [e.amount for e in own] == [adjustment.amount], f"adjustment {adjustment.id}"
        derived[adjustment.account_id] += adjustment.amount

    balances = {}
    for account in accounts:
        from_sql = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account_id == account.id
            )
        )
        assert from_sql == entry_sum[account.id], f"account {account.id} sum"
        assert entry_sum[account.id] == derived[account.id], (
            f"account {account.id}: entries say {entry_sum[account.id]}, "
            f"documents say {derived[account.id]}"
        )
        balances[account.subscriber_id] = entry_sum[account.id]

    schema = session.info[TENANT_SCHEMA_KEY]
    triggers = dict((await session.execute(_TRIGGERS, {"schema": schema})).all())
    for name in ("ledger_entries_append_only", "ledger_entries_no_truncate"):
        assert triggers.get(name) == "O", f"trigger {name} missing or disabled"
    return balances
