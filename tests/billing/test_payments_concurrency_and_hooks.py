"""Payments under concurrency, and after-payment hooks in the payment's transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from kiunga.platform.hooks import install_hooks, installed_hooks
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.billing import hooks, invoices, ledger, payments
from kiunga.tenants.billing.errors import ReferenceConflict
from kiunga.tenants.billing.invoices import InvoiceLineInput
from kiunga.tenants.billing.models import InvoiceStatus, LedgerEntry, Payment
from sqlalchemy import func, select

from .conftest import CASHIER, JAN


async def _record(
    unit_of_work,
    subscriber_id,
    reference,
    gate: asyncio.Event | None = None,
    holding: asyncio.Event | None = None,
):
    async with unit_of_work() as session:
        outcome = await payments.record_payment(
            session,
            subscriber_id,
            70_000,
            method="mpesa",
            reference=reference,
            received_at=JAN,
            actor=CASHIER,
            payer_phone="+254712345678",
            raw={"TransID": reference},
        )
        if gate is not None:
            # Hold the transaction open so the other delivery runs into it.
            if holding is not None:
                holding.set()
            await gate.wait()
        return outcome


async def test_two_racing_deliveries_of_one_reference_record_one_payment(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    gate, holding = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_record(unit_of_work, subscriber_id, "RACE1", gate, holding))
    await asyncio.wait_for(holding.wait(), 30)
    second = asyncio.create_task(_record(unit_of_work, subscriber_id, "RACE1"))
    await asyncio.sleep(0.3)
    assert not second.done(), "the second delivery must wait for the first transaction"
    gate.set()
    outcomes = await asyncio.gather(first, second)
    assert sorted(o.created for o in outcomes) == [False, True]
    assert outcomes[0].payment.id == outcomes[1].payment.id
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 1
        assert await ledger.balance(session, subscriber_id) == 70_000
    await check_invariants()


async def test_racing_deliveries_to_different_subscribers_record_once_and_refuse_the_other(
    unit_of_work, add_subscriber, check_invariants
):
    # Different accounts, so the account lock does not serialise them: the unique key does,
    # and the loser, naming another account under the same reference, is refused.
    one, other = await add_subscriber(), await add_subscriber()
    gate, holding = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_record(unit_of_work, one, "RACE2", gate, holding))
    await asyncio.wait_for(holding.wait(), 30)
    second = asyncio.create_task(_record(unit_of_work, other, "RACE2"))
    await asyncio.sleep(0.3)
    gate.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert outcomes[0].created
    assert isinstance(outcomes[1], ReferenceConflict) and outcomes[1].field == "reference"
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    await check_invariants()


async def test_hook_runs_in_the_payment_transaction(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    seen = []

    async def restore_if_covered(session, payment):
        # What the services area does: read the new balance in the same transaction.
        due = await invoices.amount_due(session, payment.subscriber_id, as_of=JAN + timedelta(30))
        seen.append((payment.amount, due, await ledger.balance(session, payment.subscriber_id)))

    previous = install_hooks(installed_hooks().with_hooks(hooks.payment_hook(restore_if_covered)))
    try:
        async with unit_of_work() as session:
            await invoices.issue_invoice(
                session,
                subscriber_id,
                [InvoiceLineInput("Home", 1, 50_000)],
                due_at=JAN,
                actor=CASHIER,
                issued_at=JAN,
            )
            await payments.record_payment(
                session,
                subscriber_id,
                50_000,
                method="cash",
                reference=None,
                received_at=JAN,
                actor=CASHIER,
            )
    finally:
        install_hooks(previous)
    assert seen == [(50_000, 0, 0)]
    await check_invariants()


async def test_a_failing_hook_rolls_the_payment_back(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        invoice = await invoices.issue_invoice(
            session,
            subscriber_id,
            [InvoiceLineInput("Home", 1, 50_000)],
            due_at=JAN,
            actor=CASHIER,
            issued_at=JAN,
        )

    async def router_unreachable(session, payment):
        raise RuntimeError("restore failed")

    previous = install_hooks(installed_hooks().with_hooks(hooks.payment_hook(router_unreachable)))
    try:
        with pytest.raises(RuntimeError, match="restore failed"):
            async with unit_of_work() as session:
                await payments.record_payment(
                    session,
                    subscriber_id,
                    50_000,
                    method="mpesa",
                    reference="HOOK1",
                    received_at=JAN,
                    actor=CASHIER,
                )
    finally:
        install_hooks(previous)
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0
        events = await session.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.topic == "payment.received")
        )
        assert list(events) == []
        refreshed = await invoices.get_invoice(session, invoice.id)
        assert refreshed.status == InvoiceStatus.ISSUED
        assert await ledger.balance(session, subscriber_id) == -50_000
    await check_invariants()


async def test_payment_emits_payment_received(unit_of_work, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        outcome = await payments.record_payment(
            session,
            subscriber_id,
            10_000,
            method="bank",
            reference="BANK-1",
            received_at=JAN,
            actor=CASHIER,
        )
    async with unit_of_work() as session:
        payloads = list(
            await session.scalars(
                select(OutboxEvent.payload).where(OutboxEvent.topic == "payment.received")
            )
        )
    assert len(payloads) == 1
    # Other areas may add facts of their own (registered with register_payment_facts).
    billing_facts = {key: payloads[0][key] for key in payloads[0] if key != "expires_at"}
    assert billing_facts | {"receipt_number": None} == {
        "payment_id": outcome.payment.id,
        "subscriber_id": subscriber_id,
        "amount": 10_000,
        "currency": "KES",
        "method": "bank",
        "reference": "BANK-1",
        "receipt_number": None,
        "balance": 10_000,
    }
    assert payloads[0]["receipt_number"] == outcome.payment.receipt_number
    await check_invariants()


async def test_concurrent_invoices_get_distinct_gapless_numbers(
    unit_of_work, add_subscriber, check_invariants
):
    subscribers = [await add_subscriber() for _ in range(6)]

    async def bill(subscriber_id):
        async with unit_of_work() as session:
            invoice = await invoices.issue_invoice(
                session, subscriber_id, [InvoiceLineInput("Home", 1, 1_000)],
                due_at=JAN, actor=CASHIER,
            )  # fmt: skip
            return invoice.number

    numbers = await asyncio.gather(*(bill(s) for s in subscribers))
    assert sorted(numbers) == [f"INV-{n:06d}" for n in range(1, 7)]
    await check_invariants()


async def test_a_rolled_back_invoice_gives_its_number_back(
    unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            await invoices.issue_invoice(
                session, subscriber_id, [InvoiceLineInput("Home", 1, 1_000)],
                due_at=JAN, actor=CASHIER,
            )  # fmt: skip
            raise RuntimeError("the caller's unit of work failed")
    async with unit_of_work() as session:
        invoice = await invoices.issue_invoice(
            session, subscriber_id, [InvoiceLineInput("Home", 1, 1_000)], due_at=JAN, actor=CASHIER
        )
        assert invoice.number == "INV-000001"
    await check_invariants()
