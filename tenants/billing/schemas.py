"""What the billing API reads and writes. Amounts are integer minor units (cents)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from kiunga.platform.web.inputs import Amount, Count, Id, Text
from kiunga.platform.web.reads import read_of
from kiunga.tenants.billing.ledger import StatementLine
from kiunga.tenants.billing.models import (
    Adjustment,
    Allocation,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
)


class InvoiceLineCreate(msgspec.Struct, forbid_unknown_fields=True):
    description: Text
    unit_price: Amount
    quantity: Count = 1
    service_id: Id | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None


class InvoiceCreate(msgspec.Struct, forbid_unknown_fields=True):
    subscriber_id: Id
    lines: list[InvoiceLineCreate]
    due_at: datetime
    # True: number and post it at once; False: keep it as a draft to issue later.
    issue: bool = False


class InvoiceVoid(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class PaymentCreate(msgspec.Struct, forbid_unknown_fields=True):
    subscriber_id: Id
    amount: Amount
    method: Text
    reference: Text | None = None
    received_at: datetime | None = None
    payer_phone: Text | None = None


class CreditNoteCreate(msgspec.Struct, forbid_unknown_fields=True):
    subscriber_id: Id
    amount: Amount
    reason: Text
    invoice_id: Id | None = None


class AdjustmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    subscriber_id: Id
    # Signed: > 0 credits the subscriber, < 0 debits.
    amount: Amount
    reason: Text


class ActorRead(msgspec.Struct):
    kind: str
    label: str
    staff_id: int | None

    @classmethod
    def of(cls, row: Any) -> ActorRead:
        return cls(kind=row.actor_kind, label=row.actor_label, staff_id=row.actor_staff_id)


class InvoiceLineRead(msgspec.Struct):
    description: str
    quantity: int
    unit_price: int
    amount: int
    service_id: int | None
    period_start: datetime | None
    period_end: datetime | None

    @classmethod
    def of(cls, line: InvoiceLine) -> InvoiceLineRead:
        return cls(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount,
            service_id=line.service_id,
            period_start=line.period_start,
            period_end=line.period_end,
        )


class AllocationRead(msgspec.Struct):
    invoice_id: int
    payment_id: int | None
    credit_note_id: int | None
    amount: int
    created_at: datetime

    @classmethod
    def of(cls, allocation: Allocation) -> AllocationRead:
        return cls(
            invoice_id=allocation.invoice_id,
            payment_id=allocation.payment_id,
            credit_note_id=allocation.credit_note_id,
            amount=allocation.amount,
            created_at=allocation.created_at,
        )


class InvoiceRead(msgspec.Struct):
    id: int
    number: str | None
    subscriber_id: int
    status: str
    currency: str
    total: int
    allocated: int
    remaining: int
    created_at: datetime
    issued_at: datetime | None
    due_at: datetime
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    created_by: ActorRead
    lines: list[InvoiceLineRead]
    allocations: list[AllocationRead] | None = None

    @classmethod
    def of(
        cls, invoice: Invoice, allocated: int, allocations: list[Allocation] | None = None
    ) -> InvoiceRead:
        open_ = invoice.status == "issued"
        return cls(
            id=invoice.id,
            number=invoice.number,
            subscriber_id=invoice.subscriber_id,
            status=invoice.status.value,
            currency=invoice.currency,
            total=invoice.total,
            allocated=allocated,
            remaining=invoice.total - allocated if open_ else 0,
            created_at=invoice.created_at,
            issued_at=invoice.issued_at,
            due_at=invoice.due_at,
            paid_at=invoice.paid_at,
            voided_at=invoice.voided_at,
            void_reason=invoice.void_reason,
            created_by=ActorRead.of(invoice),
            lines=[InvoiceLineRead.of(line) for line in invoice.lines],
            allocations=None
            if allocations is None
            else [AllocationRead.of(a) for a in allocations],
        )


class PaymentRead(msgspec.Struct):
    id: int
    receipt_number: str | None
    subscriber_id: int
    method: str
    amount: int
    currency: str
    allocated: int
    reference: str | None
    received_at: datetime
    payer_phone: str | None
    created_at: datetime
    recorded_by: ActorRead
    allocations: list[AllocationRead] | None = None

    @classmethod
    def of(
        cls, payment: Payment, allocated: int, allocations: list[Allocation] | None = None
    ) -> PaymentRead:
        return cls(
            id=payment.id,
            receipt_number=payment.receipt_number,
            subscriber_id=payment.subscriber_id,
            method=payment.method.value,
            amount=payment.amount,
            currency=payment.currency,
            allocated=allocated,
            reference=payment.reference,
            received_at=payment.received_at,
            payer_phone=payment.payer_phone,
            created_at=payment.created_at,
            recorded_by=ActorRead.of(payment),
            allocations=None
            if allocations is None
            else [AllocationRead.of(a) for a in allocations],
        )


class CreditNoteRead(msgspec.Struct):
    id: int
    number: str
    subscriber_id: int
    invoice_id: int | None
    amount: int
    currency: str
    reason: str
    issued_at: datetime
    issued_by: ActorRead

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteRead:
        return read_of(cls, note, issued_by=ActorRead.of(note))


class AdjustmentRead(msgspec.Struct):
    id: int
    subscriber_id: int
    amount: int
    currency: str
    reason: str
    created_at: datetime
    made_by: ActorRead

    @classmethod
    def of(cls, adjustment: Adjustment) -> AdjustmentRead:
        return read_of(cls, adjustment, made_by=ActorRead.of(adjustment))


class StatementEntryRead(msgspec.Struct):
    id: int
    posted_at: datetime
    kind: str
    description: str
    amount: int
    running_balance: int
    invoice_id: int | None
    payment_id: int | None
    credit_note_id: int | None
    adjustment_id: int | None
    posted_by: ActorRead

    @classmethod
    def of(cls, line: StatementLine) -> StatementEntryRead:
        entry = line.entry
        return cls(
            id=entry.id,
            posted_at=entry.posted_at,
            kind=entry.kind.value,
            description=entry.description,
            amount=entry.amount,
            running_balance=line.running_balance,
            invoice_id=entry.invoice_id,
            payment_id=entry.payment_id,
            credit_note_id=entry.credit_note_id,
            adjustment_id=entry.adjustment_id,
            posted_by=ActorRead.of(entry),
        )


class BalanceRead(msgspec.Struct):
    subscriber_id: int
    currency: str
    # >= 0: nothing owed; > 0: prepaid credit.
    balance: int
    open_amount: int
    amount_due: int


class StatementRead(msgspec.Struct):
    subscriber_id: int
    currency: str
    balance: int
    entries: list[StatementEntryRead]


class InvoicePage(msgspec.Struct):
    items: list[InvoiceRead]
    total: int
    limit: int
    offset: int


class PaymentPage(msgspec.Struct):
    items: list[PaymentRead]
    total: int
    limit: int
    offset: int


class CreditNotePage(msgspec.Struct):
    items: list[CreditNoteRead]
    total: int
    limit: int
    offset: int


class AdjustmentPage(msgspec.Struct):
    items: list[AdjustmentRead]
    total: int
    limit: int
    offset: int
