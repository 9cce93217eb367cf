"""The ledger and its documents against a real tenant schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kiunga.tenants.billing import adjustments, invoices, ledger, payments
from kiunga.tenants.billing.errors import BillingError
from kiunga.tenants.billing.invoices import InvoiceLineInput
from kiunga.tenants.billing.models import Invoice, InvoiceStatus, LedgerEntry, Payment
from kiunga.tenants.subscribers.models import SubscriberStatus
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from .conftest import CASHIER, JAN


def month(price: int, description: str = "Home 10 Mbps, January") -> list[InvoiceLineInput]:
    return [InvoiceLineInput(description, 1, price)]


async def issue(session, subscriber_id, price, *, days=0):
    return await invoices.issue_invoice(
        session,
        subscriber_id,
        month(price),
        due_at=JAN + timedelta(days=days + 7),
        actor=CASHIER,
        issued_at=JAN + timedelta(days=days),
    )


async def pay(session, subscriber_id, amount, reference=None, **kwargs):
    return await payments.record_payment(
        session,
        subscriber_id,
        amount,
        method=kwargs.pop("method", "mpesa"),
        reference=reference,
        received_at=kwargs.pop("received_at", JAN + timedelta(days=1)),
        actor=CASHIER,
        **kwargs,
    )


async def test_invoice_numbers_are_per_tenant(
    make_tenant, unit_of_work, add_subscriber, check_invariants
):
    other = make_tenant("bill")
    numbers = []
    for schema in (None, other.schema):
        subscriber_id = await add_subscriber(schema=schema)
        async with unit_of_work(schema) as session:
            first = await issue(session, subscriber_id, 150_000)
            second = await issue(session, subscriber_id, 150_000, days=30)
            numbers.append((first.number, second.number))
        await check_invariants(schema)
    assert numbers == [("INV-000001", "INV-000002")] * 2


async def test_issued_invoice_debits_and_balance_is_the_sum(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        invoice = await invoices.issue_invoice(
            session,
            subscriber_id,
            [
                InvoiceLineInput("Home 10 Mbps", 1, 200_000),
                InvoiceLineInput("Router rental", 2, 25_000, service_id=42),
            ],
            due_at=JAN + timedelta(days=7),
            actor=CASHIER,
        )
        assert invoice.total == 250_000
        assert invoice.status == InvoiceStatus.ISSUED
        assert invoice.currency == "KES"
        assert await ledger.balance(session, subscriber_id) == -250_000
        assert await invoices.open_amount(session, subscriber_id) == 250_000
        assert await invoices.amount_due(session, subscriber_id, as_of=JAN) == 0
        due_later = JAN + timedelta(days=7)
        assert await invoices.amount_due(session, subscriber_id, as_of=due_later) == 250_000
    assert await check_invariants() == {subscriber_id: -250_000}


async def test_payment_pays_oldest_invoices_first(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        january = await issue(session, subscriber_id, 100_000)
        february = await issue(session, subscriber_id, 100_000, days=31)
        march = await issue(session, subscriber_id, 100_000, days=59)
        outcome = await pay(session, subscriber_id, 150_000, "QK1")
        assert outcome.created and outcome.payment.receipt_number == "RCT-000001"
        assert [january.status, february.status, march.status] == [
            InvoiceStatus.PAID,
            InvoiceStatus.ISSUED,
            InvoiceStatus.ISSUED,
        ]
        assert await invoices.open_amount(session, subscriber_id) == 150_000
        allocations = await invoices.invoice_allocations(session, february.id)
        assert [a.amount for a in allocations] == [50_000]
        assert await invoices.invoice_allocations(session, march.id) == []
        assert await ledger.balance(session, subscriber_id) == -150_000
    await check_invariants()


async def test_overpayment_is_credit_the_next_invoice_consumes(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        await issue(session, subscriber_id, 100_000)
        await pay(session, subscriber_id, 250_000, "QK2")
        assert await ledger.balance(session, subscriber_id) == 150_000
    await check_invariants()
    async with unit_of_work() as session:
        february = await issue(session, subscriber_id, 100_000, days=31)
        assert february.status == InvoiceStatus.PAID
        march = await issue(session, subscriber_id, 100_000, days=59)
        assert march.status == InvoiceStatus.ISSUED
        assert await invoices.open_amount(session, subscriber_id) == 50_000
        assert await ledger.balance(session, subscriber_id) == -50_000
    await check_invariants()


async def test_repeated_reference_is_recorded_once(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        first = await pay(session, subscriber_id, 50_000, "QK3")
    async with unit_of_work() as session:
        again = await pay(session, subscriber_id, 50_000, "QK3")
        assert not again.created and again.payment.id == first.payment.id
        assert await ledger.balance(session, subscriber_id) == 50_000
        count = await session.scalar(select(func.count()).select_from(Payment))
        assert count == 1
    await check_invariants()


async def test_payment_to_terminated_subscriber_is_refused(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber(SubscriberStatus.TERMINATED)
    with pytest.raises(BillingError) as refused:
        async with unit_of_work() as session:
            await pay(session, subscriber_id, 50_000, "QK4")
    assert refused.value.field == "subscriber_id"
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    await check_invariants()


@pytest.mark.parametrize("amount", [-100, 0, 12.5, 100.0, "100", True])
async def test_bad_amounts_are_refused(unit_of_work, add_subscriber, amount):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        with pytest.raises(BillingError) as refused:
            await pay(session, subscriber_id, amount)
        assert refused.value.field == "amount"
        with pytest.raises(BillingError) as refused:
            await adjustments.issue_credit_note(
                session, subscriber_id, amount, reason="goodwill", actor=CASHIER
            )
        assert refused.value.field == "amount"
        with pytest.raises(BillingError) as refused:
            await invoices.issue_invoice(
                session,
                subscriber_id,
                [InvoiceLineInput("x", 1, amount)],
                due_at=JAN,
                actor=CASHIER,
            )
        assert refused.value.field in ("lines[0].unit_price", "lines")


async def test_ledger_entries_cannot_be_changed_or_removed(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        await pay(session, subscriber_id, 50_000, "QK5")
    for statement in (
        "UPDATE ledger_entries SET amount = 1",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries CASCADE",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with unit_of_work() as session:
                schema = session.info["tenant_schema"]
                await session.execute(
                    text(statement.replace("ledger_entries", f'"{schema}".ledger_entries'))
                )
    await check_invariants()


async def test_void_rules(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        unpaid = await issue(session, subscriber_id, 100_000)
        voided = await invoices.void_invoice(
            session, unpaid.id, reason="billed twice", actor=CASHIER
        )
        assert voided.status == InvoiceStatus.VOID
        assert await ledger.balance(session, subscriber_id) == 0
        with pytest.raises(BillingError, match="already void"):
            await invoices.void_invoice(session, unpaid.id, reason="again", actor=CASHIER)
        paid = await issue(session, subscriber_id, 100_000, days=31)
        await pay(session, subscriber_id, 40_000, "QK6")
        with pytest.raises(BillingError) as refused:
            await invoices.void_invoice(session, paid.id, reason="oops", actor=CASHIER)
        assert refused.value.field == "invoice_id"
        with pytest.raises(BillingError) as refused:
            await invoices.void_invoice(session, paid.id, reason="  ", actor=CASHIER)
        assert refused.value.field == "reason"
    await check_invariants()


async def test_credit_notes_and_adjustments(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        january = await issue(session, subscriber_id, 100_000)
        february = await issue(session, subscriber_id, 100_000, days=31)
        note = await adjustments.issue_credit_note(
            session,
            subscriber_id,
            100_000,
            reason="outage in week 2",
            actor=CASHIER,
            invoice_id=february.id,
        )
        assert note.number == "CN-000001"
        assert february.status == InvoiceStatus.PAID
        assert january.status == InvoiceStatus.ISSUED
        await adjustments.post_adjustment(
            session, subscriber_id, -5_000, reason="reconnection fee", actor=CASHIER
        )
        await adjustments.post_adjustment(
            session, subscriber_id, 2_000, reason="rounding", actor=CASHIER
        )
        assert await ledger.balance(session, subscriber_id) == -103_000
        with pytest.raises(BillingError) as refused:
            await adjustments.post_adjustment(session, subscriber_id, 100, reason="", actor=CASHIER)
        assert refused.value.field == "reason"
    assert await check_invariants() == {subscriber_id: -103_000}


async def test_statement_has_a_running_balance(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        await issue(session, subscriber_id, 100_000)
        await pay(session, subscriber_id, 30_000, "QK7")
        await pay(session, subscriber_id, 120_000, "QK8")
        await issue(session, subscriber_id, 100_000, days=31)
    async with unit_of_work() as session:
        lines = await ledger.statement(session, subscriber_id)
        assert [(line.entry.amount, line.running_balance) for line in lines] == [
            (-100_000, -100_000),
            (30_000, -70_000),
            (120_000, 50_000),
            (-100_000, -50_000),
        ]
        assert lines[-1].running_balance == await ledger.balance(session, subscriber_id)
        assert lines[1].entry.actor_label == CASHIER.label
    await check_invariants()


async def test_draft_touches_no_balance_until_issued(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        draft = await invoices.create_draft(
            session, subscriber_id, month(80_000), due_at=JAN, actor=CASHIER
        )
        assert draft.number is None and await ledger.balance(session, subscriber_id) == 0
    await check_invariants()
    async with unit_of_work() as session:
        issued = await invoices.issue_draft(session, draft.id, actor=CASHIER)
        assert issued.number == "INV-000001"
        with pytest.raises(BillingError):
            await invoices.issue_draft(session, draft.id, actor=CASHIER)
    await check_invariants()
    async with unit_of_work() as session:
        count = await session.scalar(select(func.count()).select_from(Invoice))
        assert count == 1


async def test_a_draft_can_be_voided_and_lines_are_checked(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        draft = await invoices.create_draft(
            session, subscriber_id, month(80_000), due_at=JAN, actor=CASHIER
        )
        voided = await invoices.void_invoice(session, draft.id, reason="wrong plan", actor=CASHIER)
        assert voided.status == InvoiceStatus.VOID and voided.number is None
        bad_lines = [
            ([], "lines"),
            ([InvoiceLineInput("Home", 0, 100)], "lines[0].quantity"),
            ([InvoiceLineInput("Home", 1.5, 100)], "lines[0].quantity"),
            ([InvoiceLineInput(" ", 1, 100)], "lines[0].description"),
            ([InvoiceLineInput("Router", 1, 0)], "lines"),
            (
                [InvoiceLineInput("Home", 1, 100, period_start=JAN + timedelta(1), period_end=JAN)],
                "lines[0].period_end",
            ),
        ]
        for lines, field in bad_lines:
            with pytest.raises(BillingError) as refused:
                await invoices.issue_invoice(
                    session, subscriber_id, lines, due_at=JAN, actor=CASHIER
                )
            assert refused.value.field == field
    async with unit_of_work() as session:
        assert await ledger.balance(session, subscriber_id) == 0
    await check_invariants()
