"""The lifecycle's batch billing and billing's one-by-one issue_invoice, from the same
starting books, write the same invoices: the same numbers, lines, ledger debits, allocations
(credit notes before payments, each oldest first, a note's own invoice first) and paid
invoices. Both use billing's numbering and allocation rules; this keeps them honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiunga.tenants.actors import Actor
from kiunga.tenants.billing import adjustments, invoices, payments
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.billing.invoices import InvoiceLineInput
from kiunga.tenants.billing.models import (
    Allocation,
    CreditNote,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
)
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.lifecycle import bulk_billing
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import select

STAFF = Actor.staff(5, "finance@isp.example")
LIFECYCLE = Actor.system("lifecycle")
EARLIER = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


async def seed(session) -> dict[str, int]:
    """Four subscribers with different credit left over, and an earlier invoice or two."""
    ids = {}
    for account in ("A", "B", "C", "D"):
        subscriber = Subscriber(
            account_number=f"EQ{account}", name=f"Subscriber {account}",
            status=SubscriberStatus.ACTIVE,
        )  # fmt: skip
        session.add(subscriber)
        await session.flush()
        ids[account] = subscriber.id

    async def invoice(subscriber, amount, at):
        line = InvoiceLineInput("Earlier month", 1, amount)
        return await invoices.issue_invoice(
            session, subscriber, [line], due_at=at + timedelta(days=7), actor=STAFF, issued_at=at
        )

    async def pay(subscriber, amount, reference, at):
        await payments.record_payment(
            session, subscriber, amount, method="mpesa", reference=reference, received_at=at,
            actor=STAFF,
        )  # fmt: skip

    # A: an earlier invoice paid, 70,000 of a payment and a 20,000 credit note left over.
    await invoice(ids["A"], 30_000, EARLIER)
    await pay(ids["A"], 100_000, "EQPAY1", EARLIER + timedelta(hours=1))
    await adjustments.issue_credit_note(session, ids["A"], 20_000, reason="outage", actor=STAFF)
    # B: an invoice partly credited by a note written against it, then overpaid.
    earlier = await invoice(ids["B"], 50_000, EARLIER)
    await adjustments.issue_credit_note(
        session, ids["B"], 10_000, reason="slow", actor=STAFF, invoice_id=earlier.id
    )
    await pay(ids["B"], 60_000, "EQPAY2", EARLIER + timedelta(hours=2))
    # B again: a note against its (now paid) invoice whose amount is all left over.
    await adjustments.issue_credit_note(
        session, ids["B"], 35_000, reason="refund", actor=STAFF, invoice_id=earlier.id
    )
    # C: an open invoice from last month and no credit at all.
    await invoice(ids["C"], 40_000, EARLIER)
    # D: two payments, oldest used first, enough for more than one period.
    await pay(ids["D"], 200_000, "EQPAY3", EARLIER + timedelta(hours=3))
    await pay(ids["D"], 250_000, "EQPAY4", EARLIER + timedelta(hours=4))
    return ids


def charges_for(ids: dict[str, int]) -> list[bulk_billing.PeriodCharge]:
    home = Package(name="Home 10M", price=150_000)
    small = Package(name="Lite 2M", price=50_000)
    business = Package(name="Business 20M", price=300_000)
    plan = [("A", home), ("B", home), ("C", small), ("D", home), ("A", small), ("D", business)]
    return [
        bulk_billing.PeriodCharge(
            service_id=100 + n,
            subscriber_id=ids[account],
            package=package,
            start=NOW,
            end=NOW + timedelta(days=31),
            due_at=NOW + timedelta(days=7),
        )  # fmt: skip
        for n, (account, package) in enumerate(plan)
    ]


def _sorted(rows) -> list:
    return sorted(rows, key=repr)


async def books(session) -> dict[str, object]:
    """The tenant's documents in terms that do not depend on row ids."""
    number = dict((await session.execute(select(Invoice.id, Invoice.number))).all())
    receipt = dict((await session.execute(select(Payment.id, Payment.reference))).all())
    note = dict((await session.execute(select(CreditNote.id, CreditNote.number))).all())
    account = dict((await session.execute(select(Subscriber.id, Subscriber.account_number))).all())
    invoice_rows = await session.scalars(select(Invoice).order_by(Invoice.number))
    lines = await session.scalars(select(InvoiceLine))
    allocations = await session.scalars(select(Allocation))
    entries = await session.scalars(select(LedgerEntry))
    return {
        "invoices": [
            (
                i.number,
                account[i.subscriber_id],
                i.total,
                i.status.value,
                i.issued_at,
                i.due_at,
                i.paid_at,
                i.actor_label,
            )
            for i in invoice_rows
        ],  # fmt: skip
        "lines": _sorted(
            (
                number[line.invoice_id],
                line.description,
                line.quantity,
                line.unit_price,
                line.amount,
                line.service_id,
                line.period_start,
                line.period_end,
            )
            for line in lines
        ),  # fmt: skip
        "allocations": _sorted(
            (number[a.invoice_id], receipt.get(a.payment_id), note.get(a.credit_note_id), a.amount)
            for a in allocations
        ),  # fmt: skip
        "ledger": _sorted(
            (e.kind.value, e.amount, number.get(e.invoice_id), e.description) for e in entries
        ),
    }


async def test_batch_and_one_by_one_write_the_same_books(make_tenant, unit_of_work):
    batch, one_by_one = make_tenant("eqb"), make_tenant("eqo")
    async with unit_of_work(batch.schema) as session:
        charges = charges_for(await seed(session))
        accounts = await bulk_billing.lock_accounts(session, {c.subscriber_id for c in charges})
        await bulk_billing.issue_period_invoices(
            session, charges, accounts, now=NOW, actor=LIFECYCLE
        )
    async with unit_of_work(one_by_one.schema) as session:
        for charge in charges_for(await seed(session)):
            line = InvoiceLineInput(
                bulk_billing._line_description(charge), 1, charge.package.price,
                service_id=charge.service_id, period_start=charge.start, period_end=charge.end,
            )  # fmt: skip
            await invoices.issue_invoice(
                session, charge.subscriber_id, [line], due_at=charge.due_at, actor=LIFECYCLE,
                issued_at=NOW,
            )  # fmt: skip

    async with unit_of_work(batch.schema) as session:
        batch_books = await books(session)
        batch_balances = await assert_ledger_invariants(session)
    async with unit_of_work(one_by_one.schema) as session:
        one_by_one_books = await books(session)
        one_by_one_balances = await assert_ledger_invariants(session)

    for part in ("invoices", "lines", "allocations", "ledger"):
        assert batch_books[part] == one_by_one_books[part], part
    assert sorted(batch_balances.values()) == sorted(one_by_one_balances.values())

    # The scenario reaches every rule: numbers in charge order after the earlier ones,
    # a note before a payment, a note's leftover, oldest payment first, covered and not.
    new = [row for row in batch_books["invoices"] if row[4] == NOW]
    assert [(row[0], row[1], row[3]) for row in new] == [
        ("INV-000004", "EQA", "issued"),  # 20,000 note + 70,000 payment: 60,000 left to pay
        ("INV-000005", "EQB", "issued"),  # 35,000 note + 20,000 payment: 95,000 left
        ("INV-000006", "EQC", "issued"),
        ("INV-000007", "EQD", "paid"),  # 150,000 of the older 200,000 payment
        ("INV-000008", "EQA", "issued"),
        ("INV-000009", "EQD", "paid"),  # the other 50,000 and 250,000 of the newer one
    ]
    allocated_now = [a for a in batch_books["allocations"] if a[0] >= "INV-000004"]
    assert allocated_now == [
        ("INV-000004", "EQPAY1", None, 70_000),
        ("INV-000004", None, "CN-000001", 20_000),
        ("INV-000005", "EQPAY2", None, 20_000),
        ("INV-000005", None, "CN-000003", 35_000),
        ("INV-000007", "EQPAY3", None, 150_000),
        ("INV-000009", "EQPAY3", None, 50_000),
        ("INV-000009", "EQPAY4", None, 250_000),
    ]
