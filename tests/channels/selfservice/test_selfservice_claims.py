""" "I already paid": a receipt in the unmatched queue is assigned once when certain, and
put to staff with the receipt when not."""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import pytest
from kiunga.channels.selfservice.errors import SelfServiceError
from kiunga.channels.selfservice.payments import CLAIM_FLAG, claim_receipt
from kiunga.platform.db.base import utcnow
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa.models import MpesaTransaction, TransactionStatus
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.tickets.models import Ticket
from sqlalchemy import func, select

_receipts = itertools.count(100)


def receipt() -> str:
    return f"QKJ{next(_receipts):07d}"


async def waiting_payment(unit_of_work, amount: int, *, phone=None, msisdn=None) -> str:
    """A C2B payment the intake could not match, as it leaves it in the unmatched queue."""
    code = receipt()
    async with unit_of_work() as session:
        session.add(
            MpesaTransaction(
                receipt=code,
                source="c2b",
                amount=amount,
                status=TransactionStatus.UNMATCHED,
                bill_ref="WRONG1",
                phone=phone,
                msisdn=msisdn or (phone.lstrip("+") if phone else None),
                paid_at=utcnow(),
            )
        )
    return code


async def test_a_payment_from_the_same_phone_is_assigned_and_restores_service(
    customer, unit_of_work, check_invariants
):
    me = await customer(price=150_000, paid=False)
    code = await waiting_payment(unit_of_work, 150_000, phone=me.phone)
    async with unit_of_work() as session:
        result = await claim_receipt(
            session, phone="0712345678", subscriber_id=me.subscriber_id, receipt=code.lower()
        )
    assert (result.outcome, result.amount) == ("assigned", 150_000)
    async with unit_of_work() as session:
        assert (await session.get(Service, me.service_id)).status is ServiceStatus.ACTIVE
        again = await claim_receipt(
            session, phone=me.phone, subscriber_id=me.subscriber_id, receipt=code
        )
        assert again.outcome == "already_yours"
    await check_invariants()


async def test_a_hashed_payer_or_the_same_amount_is_certain_enough(customer, unit_of_work):
    me = await customer(service=False)
    hashed = hashlib.sha256(b"254712345678").hexdigest()
    by_hash = await waiting_payment(unit_of_work, 50_000, msisdn=hashed)
    by_amount = await waiting_payment(unit_of_work, 70_000, phone="+254799888777")
    async with unit_of_work() as session:
        first = await claim_receipt(
            session, phone=me.phone, subscriber_id=me.subscriber_id, receipt=by_hash
        )
        second = await claim_receipt(
            session,
            phone=me.phone,
            subscriber_id=me.subscriber_id,
            receipt=by_amount,
            amount=70_000,
        )
        assert (first.outcome, second.outcome) == ("assigned", "assigned")
        assert await ledger.balance(session, me.subscriber_id) == 120_000


async def test_a_doubtful_claim_goes_to_staff_with_the_receipt(customer, unit_of_work):
    me = await customer(service=False)
    code = await waiting_payment(unit_of_work, 70_000, phone="+254799888777")
    for _ in range(2):
        async with unit_of_work() as session:
            result = await claim_receipt(
                session, phone=me.phone, subscriber_id=me.subscriber_id, receipt=code, amount=50_000
            )
            assert result.outcome == "sent_to_staff" and result.ticket is not None
    async with unit_of_work() as session:
        row = await session.scalar(select(MpesaTransaction).where(MpesaTransaction.receipt == code))
        assert row.status is TransactionStatus.UNMATCHED and row.flag == CLAIM_FLAG
        assert me.account_number in row.detail
        tickets = list(
            await session.scalars(select(Ticket).where(Ticket.subscriber_id == me.subscriber_id))
        )
        # Claimed twice: one ticket naming the receipt.
        assert len(tickets) == 1 and code in tickets[0].subject
        assert await ledger.balance(session, me.subscriber_id) == 0


async def test_concurrent_claims_credit_a_payment_once(customer, unit_of_work, database, tenant):
    me = await customer(service=False)
    code = await waiting_payment(unit_of_work, 40_000, phone=me.phone)

    async def claim():
        async with database.tenant_session(tenant.schema) as session, session.begin():
            return (
                await claim_receipt(
                    session, phone=me.phone, subscriber_id=me.subscriber_id, receipt=code
                )
            ).outcome

    outcomes = await asyncio.gather(*(claim() for _ in range(4)))
    assert sorted(outcomes) == ["already_yours"] * 3 + ["assigned"]
    async with unit_of_work() as session:
        count = await session.scalar(
            select(func.count()).select_from(Payment).where(Payment.reference == code)
        )
        assert count == 1


async def test_an_unknown_or_malformed_receipt(customer, unit_of_work):
    me = await customer(service=False)
    async with unit_of_work() as session:
        result = await claim_receipt(
            session, phone=me.phone, subscriber_id=me.subscriber_id, receipt="QZZ9999999"
        )
        assert result.outcome == "not_found" and result.ticket is None
        for bad in ("", "QK", "QKJ-12345678", "Q\x00KJ1234567", "x" * 100):
            with pytest.raises(SelfServiceError) as refused:
                await claim_receipt(
                    session, phone=me.phone, subscriber_id=me.subscriber_id, receipt=bad
                )
            assert refused.value.field == "receipt"
