"""The unmatched queue and the flagged callbacks: what staff look at, and assigning a
waiting payment to an account (credited and restored exactly like a matched callback)."""

from __future__ import annotations

from kiunga.platform.db.base import utcnow
from kiunga.tenants.actors import Actor
from kiunga.tenants.mpesa.errors import MpesaConflict, MpesaError, MpesaNotFound
from kiunga.tenants.mpesa.intake import credit
from kiunga.tenants.mpesa.matching import clean_reference, subscriber_by_account
from kiunga.tenants.mpesa.models import (
    MpesaCallback,
    MpesaRequest,
    MpesaTransaction,
    RequestStatus,
    TransactionStatus,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def list_unmatched(
    session: AsyncSession, *, limit: int = 50, offset: int = 0
) -> tuple[list[MpesaTransaction], int]:
    where = MpesaTransaction.status == TransactionStatus.UNMATCHED
    rows = await session.scalars(
        select(MpesaTransaction)
        .where(where)
        .order_by(MpesaTransaction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(MpesaTransaction).where(where))
    return list(rows), int(total or 0)


async def count_unmatched(session: AsyncSession) -> int:
    return (await list_unmatched(session, limit=0))[1]


async def list_flagged(
    session: AsyncSession, *, limit: int = 50, offset: int = 0
) -> tuple[list[MpesaCallback], int]:
    where = MpesaCallback.flag.is_not(None)
    rows = await session.scalars(
        select(MpesaCallback)
        .where(where)
        .order_by(MpesaCallback.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).select_from(MpesaCallback).where(where))
    return list(rows), int(total or 0)


async def assign_unmatched(
    session: AsyncSession, transaction_id: int, account_number: str, *, actor: Actor
) -> MpesaTransaction:
    """Credit a waiting payment to the account staff chose, in the caller's transaction."""
    account = clean_reference(account_number)
    if not account:
        raise MpesaError("account_number", "account_number is required")
    transaction = await session.get(MpesaTransaction, transaction_id, with_for_update=True)
    if transaction is None:
        raise MpesaNotFound("transaction_id", f"no M-Pesa payment with id {transaction_id}")
    if transaction.status is not TransactionStatus.UNMATCHED:
        raise MpesaConflict(
            "transaction_id", f"payment {transaction.receipt or transaction.id} is already credited"
        )
    subscriber_id = await subscriber_by_account(session, account)
    if subscriber_id is None:
        raise MpesaNotFound("account_number", f"no subscriber with account number {account}")
    reference = transaction.receipt
    request = None
    if transaction.request_id is not None:
        request = await session.get(MpesaRequest, transaction.request_id, with_for_update=True)
        reference = reference or f"STK-{request.checkout_request_id}"[:100]
        # A request whose payer was to be named when paid (held as `no_payer`): staff
        # name them now.
        if request.subscriber_id is None:
            request.subscriber_id = subscriber_id
    if not await credit(session, transaction, subscriber_id, actor=actor, reference=reference):
        raise MpesaError("account_number", transaction.detail or "billing refused the payment")
    transaction.assigned_by = actor.label[:120]
    transaction.assigned_at = utcnow()
    if request is not None:
        request.status = RequestStatus.PAID
        request.payment_id = transaction.payment_id
    await session.flush()
    return transaction
