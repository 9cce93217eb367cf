"""Paying: an STK push to the subscriber's phone (through M-Pesa's own `request_payment`),
and "I already paid": a receipt the subscriber types, matched against the unmatched queue.

A claim is assigned at once only when it is certain: the waiting payment has that receipt
and was paid from the claiming phone (as sent, or as Safaricom's hash of it) or for the
amount the subscriber names. The transaction row is locked first and `assign_unmatched`
credits it only while it is still unmatched, so two claims of one receipt credit it once.
Anything doubtful (another phone and amount, a payment already credited elsewhere, a
callback held for staff) is marked on the queue's row and put to staff in a ticket naming
the receipt — never guessed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kiunga.channels.selfservice.accounts import clean_phone, own_account
from kiunga.channels.selfservice.errors import SelfServiceError, subscriber_actor
from kiunga.channels.selfservice.tickets import TicketRef, open_or_add
from kiunga.platform.db.engine import Database
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway
from kiunga.tenants.mpesa.models import (
    MpesaCallback,
    MpesaRequest,
    MpesaTransaction,
    TransactionStatus,
)
from kiunga.tenants.mpesa.queue import assign_unmatched
from kiunga.tenants.mpesa.stk import PaymentAsk, request_payment
from kiunga.tenants.tickets.models import TicketCategory
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

# M-Pesa receipts are ten capitals and digits (QKJ3X7Y8Z9); some older ones are shorter.
_RECEIPT = re.compile(r"^[A-Z0-9]{8,12}$")
# The flag a doubtful claim leaves on the unmatched queue's row.
CLAIM_FLAG = "claimed_by_subscriber"
MAX_AMOUNT = 1_000_000_00  # KES 1,000,000 in cents: more than M-Pesa moves at once


def payment_amount(raw: object, field: str = "amount") -> int:
    """A payment amount in minor units: whole shillings, more than zero, bounded."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SelfServiceError(field, "enter the amount in whole shillings")
    if raw <= 0 or raw > MAX_AMOUNT:
        raise SelfServiceError(field, "enter an amount between 1 and 1,000,000")
    if raw % 100:
        raise SelfServiceError(field, "M-Pesa takes whole shillings only")
    return raw


async def ask_payment(
    database: Database,
    schema: str,
    *,
    subscriber_id: int,
    phone: str,
    amount: int,
    channel: str = "selfcare",
    gateway_factory: GatewayFactory = daraja_gateway,
) -> int:
    """Send an STK push for `amount` to `phone` for the subscriber's account; the
    MpesaRequest's id. Slow (Daraja answers in seconds): never inside a USSD hop. Refuses
    (SelfServiceError / NotYours) a phone that is not the account's; MpesaError and
    MpesaUnavailable come from M-Pesa's service as they are."""
    phone = clean_phone(phone)
    amount = payment_amount(amount)
    async with database.tenant_session(schema) as session:
        await own_account(session, phone, subscriber_id)
    request = await request_payment(
        database,
        schema,
        PaymentAsk(phone=phone, amount=amount, subscriber_id=subscriber_id),
        actor=subscriber_actor(phone, channel),
        gateway_factory=gateway_factory,
    )
    return request.id


def clean_receipt(raw: object) -> str:
    text = "".join(str(raw or "").split()).upper() if isinstance(raw, str) else ""
    if not _RECEIPT.match(text):
        raise SelfServiceError("receipt", "type the M-Pesa code, such as QKJ3X7Y8Z9")
    return text


def _phone_hash(phone: str) -> str:
    # As Safaricom hashes an MSISDN: SHA-256 of the digits without "+".
    return hashlib.sha256(phone.lstrip("+").encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ClaimResult:
    # assigned: credited to this account now; already_yours: credited to it before;
    # sent_to_staff: doubtful, a ticket names the receipt; not_found: no such payment here
    # (yet: a callback may still be on its way).
    outcome: str
    receipt: str
    amount: int | None = None
    ticket: TicketRef | None = None


async def claim_receipt(
    session: AsyncSession,
    *,
    phone: str,
    subscriber_id: int,
    receipt: str,
    amount: int | None = None,
    channel: str = "web",
) -> ClaimResult:
    """The subscriber says they paid with M-Pesa receipt `receipt` (and, optionally, how
    much): see the module notes. Runs in the caller's transaction."""
    phone = clean_phone(phone)
    receipt = clean_receipt(receipt)
    if amount is not None:
        amount = payment_amount(amount)
    account = await own_account(session, phone, subscriber_id)
    actor = subscriber_actor(phone, channel)
    transaction = await session.scalar(
        select(MpesaTransaction).where(MpesaTransaction.receipt == receipt).with_for_update()
    )

    async def to_staff(why: str, paid: int | None) -> ClaimResult:
        ticket = await open_or_add(
            session,
            subscriber_id=account.subscriber_id,
            phone=phone,
            subject=f"Payment {receipt} claimed by {account.account_number}",
            body=f"The subscriber says M-Pesa payment {receipt} is theirs"
            + (f" ({amount // 100} paid)" if amount else "")
            + f". {why}",
            category=TicketCategory.BILLING,
            channel=channel,
        )
        if transaction is not None and transaction.status is TransactionStatus.UNMATCHED:
            transaction.flag = transaction.flag or CLAIM_FLAG
            note = f"claimed by {account.account_number} ({phone}) in {ticket.reference}"
            transaction.detail = f"{transaction.detail}; {note}" if transaction.detail else note
            await session.flush()
        return ClaimResult("sent_to_staff", receipt, paid, ticket)

    if transaction is None:
        payment = await session.scalar(select(Payment).where(Payment.reference == receipt))
        if payment is not None:
            if payment.subscriber_id == account.subscriber_id:
                return ClaimResult("already_yours", receipt, payment.amount)
            return await to_staff("It was credited to another account.", None)
        held = await session.scalar(
            select(MpesaCallback.id).where(
                MpesaCallback.receipt == receipt, MpesaCallback.flag.is_not(None)
            )
        )
        if held is not None:
            return await to_staff("Its callback is held for staff (see M-Pesa callbacks).", None)
        return ClaimResult("not_found", receipt)
    if transaction.status is TransactionStatus.CREDITED:
        if transaction.subscriber_id == account.subscriber_id:
            return ClaimResult("already_yours", receipt, transaction.amount)
        return await to_staff("It was credited to another account.", transaction.amount)
    if transaction.request_id is not None:
        request = await session.get(MpesaRequest, transaction.request_id)
        if request.subscriber_id not in (None, account.subscriber_id):
            return await to_staff(
                "It answers a payment request made for another account.", transaction.amount
            )
    same_phone = transaction.phone == phone or (transaction.msisdn or "").lower() == _phone_hash(
        phone
    )
    same_amount = amount is not None and transaction.amount == amount
    if not (same_phone or same_amount):
        return await to_staff(
            "It was paid from another phone, and the amount was not given or differs.",
            None,
        )
    await assign_unmatched(session, transaction.id, account.account_number, actor=actor)
    return ClaimResult("assigned", receipt, transaction.amount)
