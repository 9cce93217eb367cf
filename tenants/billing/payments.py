"""Recording payments: once per provider reference, credited, allocated, receipted.

A provider repeats callbacks; the reference is a unique key and a repeat returns the
payment already recorded (`created=False`) without changing anything, even when two
deliveries race in two transactions. The same reference with another amount or for another
subscriber is not a repeat: it is refused with ReferenceConflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.allocation import allocate_credit
from kiunga.tenants.billing.errors import BillingError, NotFound, ReferenceConflict, money
from kiunga.tenants.billing.hooks import payment_facts, run_payment_hooks
from kiunga.tenants.billing.ledger import (
    account_for,
    actor_columns,
    balance,
    number_and_post,
    numbered_at_end,
)
from kiunga.tenants.billing.models import EntryKind, Payment, PaymentMethod
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

MAX_REFERENCE_LENGTH = 100


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    payment: Payment
    created: bool


def _clean_method(method: PaymentMethod | str) -> PaymentMethod:
    try:
        return PaymentMethod(method)
    except ValueError:
        choices = ", ".join(m.value for m in PaymentMethod)
        raise BillingError("method", f"method must be one of {choices}") from None


def _clean_reference(reference: str | None) -> str | None:
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise BillingError(
            "reference", f"reference must be at most {MAX_REFERENCE_LENGTH} characters"
        )
    return reference or None


def _clean_phone(phone: str | None) -> str | None:
    if not (phone or "").strip():
        return None
    try:
        return normalise_phone(phone)
    except InvalidPhone as exc:
        raise BillingError("payer_phone", str(exc)) from None


async def payment_by_reference(session: AsyncSession, reference: str) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.reference == reference))


def _repeat_of(existing: Payment, subscriber_id: int, amount: int) -> PaymentOutcome:
    """A repeat delivery is a success only when it says the same thing as the first one;
    the same reference for another amount or account is a different payment, refused."""
    if existing.amount != amount or existing.subscriber_id != subscriber_id:
        raise ReferenceConflict(
            "reference",
            f"reference {existing.reference} is already recorded for another amount or account",
        )
    return PaymentOutcome(existing, created=False)


async def record_payment(
    session: AsyncSession,
    subscriber_id: int,
    amount: int,
    *,
    method: PaymentMethod | str,
    reference: str | None,
    received_at: datetime,
    actor: Actor,
    payer_phone: str | None = None,
    raw: dict[str, Any] | None = None,
) -> PaymentOutcome:
    amount = money(amount, "amount")
    method = _clean_method(method)
    reference = _clean_reference(reference)
    payer_phone = _clean_phone(payer_phone)
    status = await session.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))
    if status is None or status == SubscriberStatus.TERMINATED:
        # A repeat of what was recorded before still answers as a repeat.
        if reference is not None and (existing := await payment_by_reference(session, reference)):
            return _repeat_of(existing, subscriber_id, amount)
        if status is None:
            raise NotFound("subscriber_id", f"no subscriber with id {subscriber_id}")
        raise BillingError("subscriber_id", "the subscriber's account is terminated")
    account = await account_for(session, subscriber_id, lock=True)

    # ON CONFLICT DO NOTHING waits for a concurrent insert of the same reference and then
    # inserts nothing: the loser of a race finds the winner's payment instead of an error
    # that would abort its whole transaction.
    payment = await session.scalar(
        insert(Payment)
        .values(
            subscriber_id=subscriber_id,
            account_id=account.id,
            method=method,
            amount=amount,
            currency=account.currency,
            reference=reference,
            received_at=received_at,
            payer_phone=payer_phone,
            raw=raw,
            **actor_columns(actor),
        )
        .on_conflict_do_nothing(index_elements=[Payment.reference])
        .returning(Payment)
    )
    if payment is None:
        existing = await payment_by_reference(session, reference)
        return _repeat_of(existing, subscriber_id, amount)

    # Numbered only once the payment is known to be new, so a repeat does not use up a
    # number; and at the end of the work it leads to, so that the ISP's receipt and invoice
    # counters stay locked only from there to commit (see ledger.numbered_at_end).
    async with numbered_at_end(session):
        await number_and_post(
            session,
            "receipt",
            payment,
            "receipt_number",
            account,
            EntryKind.PAYMENT,
            amount,
            describe=lambda number: f"Payment {number} ({method.value})",
            actor=actor,
            payment_id=payment.id,
        )
        await allocate_credit(session, account, now=received_at)
        await run_payment_hooks(session, payment)
        # After the hooks, so that the event tells what the payment led to (the new
        # balance, and what other areas add, such as a restored service's expiry).
        facts = {
            "balance": await balance(session, subscriber_id),
            **await payment_facts(session, payment),
        }
    await emit(
        session,
        "payment.received",
        {
            "payment_id": payment.id,
            "subscriber_id": subscriber_id,
            "amount": amount,
            "currency": payment.currency,
            "method": method.value,
            "reference": reference,
            "receipt_number": payment.receipt_number,
            **facts,
        },
    )
    return PaymentOutcome(payment, created=True)


async def get_payment(session: AsyncSession, payment_id: int) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("payment_id", f"no payment with id {payment_id}")
    return payment
