"""Credit notes and adjustments: corrections made by staff, always with a reason."""

from __future__ import annotations

from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.allocation import allocate_credit
from kiunga.tenants.billing.errors import BillingError, money, required_text
from kiunga.tenants.billing.invoices import get_invoice
from kiunga.tenants.billing.ledger import account_for, actor_columns, post_entry
from kiunga.tenants.billing.models import Account, Adjustment, CreditNote, EntryKind, InvoiceStatus
from kiunga.tenants.billing.numbering import next_number
from sqlalchemy.ext.asyncio import AsyncSession


async def issue_credit_note(
    session: AsyncSession,
    subscriber_id: int,
    amount: int,
    *,
    reason: str,
    actor: Actor,
    invoice_id: int | None = None,
) -> CreditNote:
    """Credit the subscriber; applied to `invoice_id` first when given, else to the oldest
    open invoices, and any rest stays as credit for the next invoice."""
    amount = money(amount, "amount")
    reason = required_text(reason, "reason")
    account = await account_for(session, subscriber_id, lock=True)
    if invoice_id is not None:
        invoice = await get_invoice(session, invoice_id)
        if invoice.subscriber_id != subscriber_id:
            raise BillingError("invoice_id", "the invoice belongs to another subscriber")
        if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise BillingError("invoice_id", f"the invoice is {invoice.status.value}")
    note = CreditNote(
        number=await next_number(session, "credit_note"),
        invoice_id=invoice_id,
        **_correction(account, amount, reason, actor),
    )
    description = f"Credit note {note.number}: {reason}"
    await _book(session, account, note, EntryKind.CREDIT_NOTE, description, actor)
    await allocate_credit(session, account)
    await emit(
        session,
        "credit_note.issued",
        {"credit_note_id": note.id, "subscriber_id": subscriber_id, "amount": amount},
    )
    return note


async def post_adjustment(
    session: AsyncSession, subscriber_id: int, amount: int, *, reason: str, actor: Actor
) -> Adjustment:
    """A signed correction (> 0 credits, < 0 debits). It is not a document that pays an
    invoice: a credit adjustment raises the balance without touching invoices' status."""
    amount = money(amount, "amount", allow_negative=True)
    reason = required_text(reason, "reason")
    account = await account_for(session, subscriber_id, lock=True)
    adjustment = Adjustment(**_correction(account, amount, reason, actor))
    description = f"Adjustment: {reason}"
    await _book(session, account, adjustment, EntryKind.ADJUSTMENT, description, actor)
    return adjustment


def _correction(account: Account, amount: int, reason: str, actor: Actor) -> dict:
    """The columns a credit note and an adjustment share: whose, how much, why, by whom."""
    return {
        "subscriber_id": account.subscriber_id,
        "account_id": account.id,
        "amount": amount,
        "currency": account.currency,
        "reason": reason,
        **actor_columns(actor),
    }


async def _book(
    session: AsyncSession,
    account: Account,
    correction: CreditNote | Adjustment,
    kind: EntryKind,
    description: str,
    actor: Actor,
) -> None:
    """Store the correction and post its amount to the ledger, the entry naming it."""
    session.add(correction)
    await session.flush()
    link = {EntryKind.CREDIT_NOTE: "credit_note_id", EntryKind.ADJUSTMENT: "adjustment_id"}[kind]
    await post_entry(
        session,
        account,
        kind,
        correction.amount,
        description=description,
        actor=actor,
        **{link: correction.id},
    )
