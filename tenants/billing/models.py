"""Billing tables: accounts, the append-only ledger and the documents behind its entries.

Money is integer minor units (cents) of the document's currency; never a float. Sign of a
ledger entry: > 0 credits the subscriber (payment, credit note, credit adjustment, a voided
invoice's reversal), < 0 debits (an issued invoice, a debit adjustment). A balance is the sum
of an account's entries and is never stored, so it cannot drift.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class PaymentMethod(enum.StrEnum):
    CASH = "cash"
    BANK = "bank"
    MPESA = "mpesa"
    CARD = "card"
    OTHER = "other"


class EntryKind(enum.StrEnum):
    INVOICE = "invoice"
    INVOICE_VOID = "invoice_void"
    PAYMENT = "payment"
    CREDIT_NOTE = "credit_note"
    ADJUSTMENT = "adjustment"


class ActedBy:
    """Who acted (see tenants.actors.Actor), stored beside every entry and document."""

    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_label: Mapped[str] = mapped_column(String(120))
    # platform.staff_accounts.id; not a foreign key because it lives in another schema.
    actor_staff_id: Mapped[int | None] = mapped_column(BigInteger)


class DocumentSequence(TenantBase):
    """The last number given to each kind of document (invoice, receipt, credit note).

    Numbers are taken with a row lock held until commit, so they have no gaps and no repeats.
    """

    __tablename__ = "document_sequences"

    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger)


class Account(TenantBase):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), unique=True
    )
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Invoice(ActedBy, TenantBase):
    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # INV-000123, given when the invoice is issued; a draft has none.
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[InvoiceStatus] = mapped_column(
        text_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.DRAFT
    )
    # The sum of the lines' amounts, kept with the invoice so open amounts are one query;
    # the invariant check proves it equals the lines.
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    issued_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice",
        cascade="all, delete-orphan",
        order_by="InvoiceLine.position",
        lazy="selectin",
    )

    __table_args__ = (
        CheckConstraint("total >= 0", name="total_not_negative"),
        # Numbered exactly when issued; a draft never was, a void one may have been.
        CheckConstraint("(number IS NULL) = (issued_at IS NULL)", name="numbered_when_issued"),
        CheckConstraint(
            "CASE status WHEN 'draft' THEN issued_at IS NULL"
            " WHEN 'void' THEN true ELSE issued_at IS NOT NULL END",
            name="issued_unless_draft",
        ),
        Index("ix_invoices_status_due_at", "status", "due_at"),
    )


class InvoiceLine(TenantBase):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    # services.id; no foreign key because services arrive in a later revision.
    service_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("amount = quantity * unit_price", name="amount_is_quantity_times_price"),
    )


class Payment(ActedBy, TenantBase):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # RCT-000123, given in the same transaction as the payment is recorded.
    receipt_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    method: Mapped[PaymentMethod] = mapped_column(text_enum(PaymentMethod, "payment_method"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The provider's reference (M-Pesa receipt, bank slip): a repeat is the same payment.
    reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    received_at: Mapped[datetime]
    payer_phone: Mapped[str | None] = mapped_column(String(16))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class CreditNote(ActedBy, TenantBase):
    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    # The invoice it was written against, if any: it is applied there first.
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)


class Adjustment(ActedBy, TenantBase):
    """A signed correction of the balance with a reason (> 0 credits, < 0 debits)."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("length(trim(reason)) > 0", name="reason_given"),
    )


class Allocation(TenantBase):
    """Part of a payment or credit note applied to an invoice."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="RESTRICT"), index=True
    )
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(payment_id IS NULL) <> (credit_note_id IS NULL)", name="one_source"),
    )


class LedgerEntry(ActedBy, TenantBase):
    """Append-only: a trigger (revision 0004) refuses UPDATE and DELETE."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    kind: Mapped[EntryKind] = mapped_column(text_enum(EntryKind, "entry_kind"))
    amount: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(300))
    invoice_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="RESTRICT"), index=True
    )
    payment_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    credit_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="RESTRICT")
    )
    adjustment_id: Mapped[int | None] = mapped_column(
        ForeignKey("adjustments.id", ondelete="RESTRICT")
    )
    posted_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
    )
