"""Daraja's callbacks in, exactly once.

Each callback is stored as it arrived, in a transaction of its own, before anything is
done with it: its raw body as text, and the JSON only when it reads safely (a depth limit,
nothing jsonb refuses); a body that does not is stored flagged. Then it is processed in a
second transaction, every field checked before it reaches a column: the receipt (TransID /
MpesaReceiptNumber) is a unique key, the STK request's row and the subscriber's account are
locked, and the credit, its allocation to invoices and the restoration of service all
commit together (billing's record_payment and its hooks). A repeated or concurrent callback
finds the receipt taken and changes nothing. Whatever happens, Daraja is answered with
success (or a validation's yes/no), so that it stops retrying: what could not be credited
is flagged on the stored callback, and money that matched no account waits in the
unmatched queue for staff. A callback whose processing raises is flagged with the error and
retried by the minute job (reprocess_stored) up to MAX_ATTEMPTS in all, each on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from kiunga.integrations.mpesa.callbacks import (
    C2B_INVALID_ACCOUNT_NUMBER,
    C2B_INVALID_SHORTCODE,
    C2B_OTHER_ERROR,
    C2BNotice,
    CallbackError,
    StkCallback,
    c2b_accept,
    c2b_reject,
    callback_ack,
    parse_c2b,
    parse_stk_callback,
    read_body,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.errors import BillingError, NotFound
from kiunga.tenants.billing.models import PaymentMethod
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.mpesa.config import accepted_shortcodes, settings_row
from kiunga.tenants.mpesa.matching import clean_reference, match_subscriber
from kiunga.tenants.mpesa.models import (
    CallbackKind,
    CallbackOutcome,
    MpesaCallback,
    MpesaRequest,
    MpesaTransaction,
    RequestStatus,
    ShortcodeType,
    TransactionStatus,
)
from kiunga.tenants.mpesa.payers import payer_of, request_awaiting_payer
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.mpesa")

MPESA = Actor.system("mpesa")
# Daraja's bodies are a few hundred bytes; a larger one is answered 413 and not stored.
MAX_BODY_BYTES = 64 * 1024
# A stored callback whose processing raises is retried this many times, then left flagged.
MAX_ATTEMPTS = 3
PROCESSING_FAILED = "processing_failed"


@dataclass(slots=True)
class Handled:
    """What became of a callback, and what to answer Daraja."""

    answer: dict[str, Any]
    outcome: CallbackOutcome
    flag: str | None = None
    detail: str | None = None
    transaction_id: int | None = None
    receipt: str | None = None
    checkout_request_id: str | None = None


class Flagged(Exception):
    """Processing stops here: the callback is recorded with this flag, nothing credited."""

    def __init__(
        self,
        flag: str,
        detail: str,
        checkout_request_id: str | None = None,
        receipt: str | None = None,
    ):
        super().__init__(detail)
        self.flag = flag
        self.detail = detail
        self.checkout_request_id = checkout_request_id
        self.receipt = receipt


# ------------------------------------------------------------------------ storing first


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    body: dict[str, Any] | None  # None: unusable, and already flagged malformed
    problem: str | None = None


def _as_text(raw: bytes) -> str:
    """The raw body as text that PostgreSQL always takes: what is not UTF-8, and NUL, become
    U+FFFD (the parsed body is read from the bytes, never from this)."""
    return raw[:MAX_BODY_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


async def store_callback(
    database: Database, schema: str, kind: CallbackKind, raw: bytes, source: str | None
) -> Stored:
    """The callback as it arrived, committed before any processing. A body that cannot be
    read (not JSON, too deep, not storable as jsonb) is stored flagged, never refused."""
    body: dict[str, Any] | None
    try:
        body, problem = read_body(raw[:MAX_BODY_BYTES]), None
    except CallbackError as error:
        body, problem = None, f"{error.field}: {error.message}"
    callback = MpesaCallback(
        kind=kind,
        raw_body=_as_text(raw),
        body=body,
        source_address=(source or "")[:45] or None,
        outcome=CallbackOutcome.RECEIVED,
    )
    if problem is not None:
        callback.outcome = CallbackOutcome.FLAGGED
        callback.flag = "malformed"
        callback.detail = problem
        callback.processed_at = utcnow()
    async with database.tenant_session(schema) as session, session.begin():
        session.add(callback)
        await session.flush()
        return Stored(callback.id, body, problem)


async def handle_callback(
    database: Database, schema: str, kind: CallbackKind, raw: bytes, source: str | None
) -> Handled:
    """Store, then process in one transaction; the answer for Daraja, whatever happened
    after storing (what failed is retried by reprocess_stored)."""
    stored = await store_callback(database, schema, kind, raw, source)
    if stored.body is None:
        return Handled(_stop_answer(kind), CallbackOutcome.FLAGGED, "malformed", stored.problem)
    try:
        async with database.tenant_session(schema) as session, session.begin():
            handled = await process(session, kind, stored.body)
            await _record_outcome(session, stored.id, handled)
        return handled
    except Exception as error:  # noqa: BLE001  (stored: answered, retried by the job)
        detail = await _record_failure(database, schema, stored.id, error)
        return Handled(_stop_answer(kind), CallbackOutcome.RECEIVED, PROCESSING_FAILED, detail)


async def hold_callback(
    database: Database, schema: str, kind: CallbackKind, raw: bytes, source: str | None
) -> dict[str, Any]:
    """A callback for a disabled ISP: stored as received, not processed (the minute job
    processes it once the ISP is enabled again), and answered so that Daraja stops."""
    await store_callback(database, schema, kind, raw, source)
    return _stop_answer(kind)


async def _record_outcome(session: AsyncSession, callback_id: int, handled: Handled) -> None:
    await session.execute(
        update(MpesaCallback)
        .where(MpesaCallback.id == callback_id)
        .values(
            outcome=handled.outcome,
            flag=handled.flag,
            detail=handled.detail,
            transaction_id=handled.transaction_id,
            receipt=handled.receipt,
            checkout_request_id=handled.checkout_request_id,
            # The database's clock as the transaction ends: received_at → processed_at
            # is the time from storing the callback to crediting and restoring.
            processed_at=func.clock_timestamp(),
        )
        .execution_options(synchronize_session=False)
    )


def _describe(error: Exception) -> str:
    """The error in one line, without the statement or its parameters."""
    cause = getattr(error, "orig", None) or error
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {message}"[:500]


async def _record_failure(
    database: Database, schema: str, callback_id: int, error: Exception
) -> str | None:
    """Count a failed attempt on the stored callback and flag it with the error; after
    MAX_ATTEMPTS it is left flagged for a person, and no longer retried. None when even
    that could not be written (the database is away: the callback waits as received)."""
    detail = _describe(error)
    log.warning("mpesa callback processing failed", callback_id=callback_id, error=detail)
    try:
        async with database.tenant_session(schema) as session, session.begin():
            attempts = MpesaCallback.attempts + 1
            await session.execute(
                update(MpesaCallback)
                .where(
                    MpesaCallback.id == callback_id,
                    MpesaCallback.outcome == CallbackOutcome.RECEIVED,
                )
                .values(
                    attempts=attempts,
                    flag=PROCESSING_FAILED,
                    detail=detail,
                    outcome=case(
                        (attempts >= MAX_ATTEMPTS, CallbackOutcome.FLAGGED.value),
                        else_=CallbackOutcome.RECEIVED.value,
                    ),
                    processed_at=case((attempts >= MAX_ATTEMPTS, func.clock_timestamp())),
                )
                .execution_options(synchronize_session=False)
            )
    except Exception:  # noqa: BLE001
        log.warning("mpesa callback failure not recorded", callback_id=callback_id)
        return None
    return detail


async def reprocess_stored(
    database: Database, schema: str, *, older_than: timedelta = timedelta(minutes=1)
) -> int:
    """Process callbacks that were stored but never processed (the process died, the
    database failed between the two transactions, or processing raised), each at most
    once more per run, each in its own transaction: one that fails is flagged with its
    error and the others go on. Processing is idempotent, so a callback that did get
    through changes nothing."""
    async with database.tenant_session(schema) as session:
        waiting = list(
            await session.scalars(
                select(MpesaCallback.id)
                .where(
                    MpesaCallback.outcome == CallbackOutcome.RECEIVED,
                    MpesaCallback.received_at < utcnow() - older_than,
                )
                .order_by(MpesaCallback.id)
                .limit(200)
            )
        )
    for callback_id in waiting:
        try:
            async with database.tenant_session(schema) as session, session.begin():
                callback = await session.scalar(
                    select(MpesaCallback)
                    .where(
                        MpesaCallback.id == callback_id,
                        MpesaCallback.outcome == CallbackOutcome.RECEIVED,
                    )
                    .with_for_update(skip_locked=True)
                )
                if callback is None:
                    continue  # processed meanwhile, or being processed now
                handled = await process(session, callback.kind, callback.body)
                await _record_outcome(session, callback_id, handled)
        except Exception as error:  # noqa: BLE001  (one callback never stops the others)
            await _record_failure(database, schema, callback_id, error)
    return len(waiting)


def _stop_answer(kind: CallbackKind) -> dict[str, Any]:
    """What stops Daraja retrying a callback we cannot use."""
    if kind is CallbackKind.C2B_VALIDATION:
        return c2b_reject(C2B_OTHER_ERROR, "Rejected")
    if kind is CallbackKind.C2B_CONFIRMATION:
        return c2b_accept()
    return callback_ack()


async def process(session: AsyncSession, kind: CallbackKind, parsed: Any) -> Handled:
    receipt = None  # known once the body is read: a flagged callback can be found by it
    try:
        if parsed is None:
            raise Flagged("malformed", "the body is not a usable JSON object")
        if kind is CallbackKind.C2B_VALIDATION:
            return await _validate(session, _parse(parse_c2b, parsed))
        if kind is CallbackKind.C2B_CONFIRMATION:
            notice = _parse(parse_c2b, parsed)
            receipt = notice.trans_id
            return await _confirm(session, notice, parsed)
        if kind is CallbackKind.STK:
            callback = _parse(parse_stk_callback, parsed)
            receipt = callback.receipt
            return await _stk(session, callback, parsed)
        # Result and timeout callbacks (Transaction Status) are kept for people to read.
        return Handled(callback_ack(), CallbackOutcome.ACCEPTED)
    except Flagged as flagged:
        return Handled(
            _stop_answer(kind),
            CallbackOutcome.FLAGGED,
            flagged.flag,
            flagged.detail[:2000],
            checkout_request_id=flagged.checkout_request_id,
            receipt=flagged.receipt or receipt,
        )


def _parse(parser, parsed):
    try:
        return parser(parsed)
    except CallbackError as error:
        raise Flagged("malformed", f"{error.field}: {error.message}") from None


# ------------------------------------------------------------------------ C2B


async def _known_settings(session: AsyncSession, shortcode: str):
    row = await settings_row(session)
    if row is None:
        raise Flagged("not_configured", "M-Pesa is not set up for this ISP")
    if shortcode not in accepted_shortcodes(row):
        raise Flagged("unknown_shortcode", f"shortcode {shortcode} is not this ISP's")
    return row


async def _validate(session: AsyncSession, notice: C2BNotice) -> Handled:
    try:
        row = await _known_settings(session, notice.business_shortcode)
    except Flagged as flagged:
        return Handled(
            c2b_reject(C2B_INVALID_SHORTCODE, "Rejected"),
            CallbackOutcome.REJECTED,
            flagged.flag,
            flagged.detail,
            receipt=notice.trans_id,
        )
    if notice.amount_minor <= 0:
        return Handled(
            c2b_reject("C2B00013", "Rejected"), CallbackOutcome.REJECTED, receipt=notice.trans_id
        )
    # A till has no account to type: any payment to it is welcome.
    if row.shortcode_type is ShortcodeType.TILL and not notice.bill_ref_number:
        return Handled(c2b_accept(), CallbackOutcome.ACCEPTED, receipt=notice.trans_id)
    matched = await match_subscriber(
        session, notice.bill_ref_number, notice.phone, notice.msisdn_hash
    ) or await request_awaiting_payer(session, notice.bill_ref_number, notice.amount_minor)
    if matched is None:
        return Handled(
            c2b_reject(C2B_INVALID_ACCOUNT_NUMBER, "Rejected"),
            CallbackOutcome.REJECTED,
            detail=f"no account {clean_reference(notice.bill_ref_number)!r}",
            receipt=notice.trans_id,
        )
    return Handled(c2b_accept(), CallbackOutcome.ACCEPTED, receipt=notice.trans_id)


async def _claim_receipt(session: AsyncSession, **values: Any) -> MpesaTransaction | None:
    """Insert the receipt's row, or None when it is already there (waiting for a concurrent
    insert of the same receipt to commit or roll back first)."""
    return await session.scalar(
        insert(MpesaTransaction)
        .values(status=TransactionStatus.UNMATCHED, **values)
        .on_conflict_do_nothing(index_elements=[MpesaTransaction.receipt])
        .returning(MpesaTransaction)
    )


async def _repeat(session: AsyncSession, receipt: str, amount: int) -> Handled:
    existing = await session.scalar(
        select(MpesaTransaction).where(MpesaTransaction.receipt == receipt)
    )
    if existing is not None and existing.amount != amount:
        raise Flagged(
            "changed_replay",
            f"receipt {receipt} came again for {amount}, first for {existing.amount}",
            receipt=receipt,
        )
    return Handled(
        {},
        CallbackOutcome.DUPLICATE,
        transaction_id=existing.id if existing else None,
        receipt=receipt,
    )


async def _confirm(session: AsyncSession, notice: C2BNotice, body: dict) -> Handled:
    await _known_settings(session, notice.business_shortcode)
    answer = c2b_accept()
    if notice.amount_minor <= 0:
        raise Flagged("bad_amount", f"amount {notice.amount_minor} is not a payment")
    # An STK push to a payer named only when paid, confirmed by C2B before its callback:
    # its account reference (PAY<id>) and amount name the request. Locked before the
    # receipt is claimed, as the STK callback does, so the two never wait on each other.
    awaiting = await request_awaiting_payer(session, notice.bill_ref_number, notice.amount_minor)
    transaction = await _claim_receipt(
        session,
        receipt=notice.trans_id,
        source="c2b",
        amount=notice.amount_minor,
        shortcode=notice.business_shortcode,
        bill_ref=notice.bill_ref_number or None,
        msisdn=notice.msisdn_raw or None,
        phone=notice.phone,
        payer_name=notice.payer_name[:200] or None,
        paid_at=notice.trans_time,
    )
    if transaction is None:
        handled = await _repeat(session, notice.trans_id, notice.amount_minor)
        handled.answer = answer
        return handled
    transaction_id = transaction.id
    # The request's payer is named now; looked at before any account of that number (the
    # reference is the request's own for its short life).
    subscriber_id = await payer_of(session, awaiting) if awaiting is not None else None
    if subscriber_id is None:
        subscriber_id = await match_subscriber(
            session, notice.bill_ref_number, notice.phone, notice.msisdn_hash
        )
    if subscriber_id is None:
        transaction.flag = "no_account"
        transaction.detail = f"no account {clean_reference(notice.bill_ref_number)!r}"
        await session.flush()
        return Handled(
            answer,
            CallbackOutcome.UNMATCHED,
            transaction_id=transaction_id,
            receipt=notice.trans_id,
        )
    return await _credit_or_hold(session, transaction, subscriber_id, body, answer)


async def credit(
    session: AsyncSession,
    transaction: MpesaTransaction,
    subscriber_id: int,
    *,
    actor: Actor,
    raw: dict | None = None,
    reference: str | None = None,
) -> bool:
    """Credit the transaction's money to the subscriber (allocated, service restored) in the
    caller's transaction; False (and a flag on the transaction) when billing refuses."""
    try:
        async with session.begin_nested():
            outcome = await record_payment(
                session,
                subscriber_id,
                transaction.amount,
                method=PaymentMethod.MPESA,
                reference=reference or transaction.receipt,
                # A clock ahead (TransTime in the future) never starts a period later.
                received_at=min(transaction.paid_at, utcnow()),
                actor=actor,
                payer_phone=transaction.phone,
                raw=raw,
            )
    except (BillingError, NotFound) as error:
        transaction.subscriber_id = subscriber_id
        transaction.flag = "refused"
        transaction.detail = error.message
        await session.flush()
        return False
    transaction.status = TransactionStatus.CREDITED
    transaction.subscriber_id = outcome.payment.subscriber_id
    transaction.payment_id = outcome.payment.id
    if not outcome.created:
        # Recorded before under the same reference (a cashier typed the receipt in).
        transaction.detail = f"already recorded as payment {outcome.payment.id}"
    await session.flush()
    return True


async def _credit_or_hold(
    session: AsyncSession,
    transaction: MpesaTransaction,
    subscriber_id: int,
    body: dict,
    answer: dict,
) -> Handled:
    credited = await credit(session, transaction, subscriber_id, actor=MPESA, raw=body)
    if credited:
        return Handled(
            answer,
            CallbackOutcome.CREDITED,
            transaction_id=transaction.id,
            receipt=transaction.receipt,
        )
    return Handled(
        answer,
        CallbackOutcome.UNMATCHED,
        flag=transaction.flag,
        detail=transaction.detail,
        transaction_id=transaction.id,
        receipt=transaction.receipt,
    )


# ------------------------------------------------------------------------ STK push


async def _request_for(session: AsyncSession, checkout_request_id: str) -> MpesaRequest:
    request = await session.scalar(
        select(MpesaRequest)
        .where(MpesaRequest.checkout_request_id == checkout_request_id)
        .with_for_update()
    )
    if request is None:
        # Another ISP's request, or one never made: nothing here to pay.
        raise Flagged(
            "unknown_checkout_request",
            f"no STK request {checkout_request_id} at this ISP",
            checkout_request_id[:100],
        )
    return request


async def take_early_callbacks(session: AsyncSession, checkout_request_id: str) -> None:
    """Process STK callbacks that arrived before the request learnt its CheckoutRequestID
    (Daraja can call back before its answer to the push is stored), in the caller's
    transaction, which has just stored it."""
    early = await session.scalars(
        select(MpesaCallback)
        .where(
            MpesaCallback.checkout_request_id == checkout_request_id,
            MpesaCallback.flag == "unknown_checkout_request",
        )
        .order_by(MpesaCallback.id)
        .with_for_update()
    )
    for callback in list(early):
        handled = await process(session, CallbackKind.STK, callback.body)
        await _record_outcome(session, callback.id, handled)


async def _stk(session: AsyncSession, callback: StkCallback, body: dict) -> Handled:
    checkout = callback.checkout_request_id
    request = await _request_for(session, checkout)
    if not callback.succeeded:
        return await _stk_failed(session, request, callback)
    handled = await settle_paid(
        session,
        request,
        amount=callback.amount_minor,
        receipt=callback.receipt,
        paid_at=callback.transaction_time or utcnow(),
        phone=callback.phone,
        raw=body,
    )
    handled.answer = callback_ack()
    handled.checkout_request_id = checkout
    return handled


async def _stk_failed(
    session: AsyncSession, request: MpesaRequest, callback: StkCallback
) -> Handled:
    ack = callback_ack()
    if request.status is RequestStatus.PENDING:
        request.status = RequestStatus.FAILED
        request.result_code = callback.result_code
        request.result_desc = (callback.result_desc or "")[:2000]
        request.completed_at = utcnow()
        await session.flush()
        return Handled(ack, CallbackOutcome.FAILED, checkout_request_id=request.checkout_request_id)
    if request.status in (RequestStatus.PAID, RequestStatus.REVIEW):
        raise Flagged(
            "conflicting_result",
            f"request {request.id} was paid; a failure ({callback.result_code}) came after",
        )
    return Handled(ack, CallbackOutcome.DUPLICATE, checkout_request_id=request.checkout_request_id)


async def settle_paid(
    session: AsyncSession,
    request: MpesaRequest,
    *,
    amount: int | None,
    receipt: str | None,
    paid_at: datetime,
    phone: str | None,
    raw: dict | None,
) -> Handled:
    """A locked STK request was paid (its callback, or STK Query when no receipt is known):
    credit it once, or hold it for staff when the amount is not what was asked."""
    amount = amount or request.amount
    if request.status in (RequestStatus.PAID, RequestStatus.REVIEW):
        return await _stk_repeat(session, request, amount, receipt)
    transaction = await _claim_receipt(
        session,
        receipt=receipt,
        source="stk",
        amount=amount,
        bill_ref=request.account_reference,
        phone=phone or request.phone,
        paid_at=paid_at,
        request_id=request.id,
        subscriber_id=request.subscriber_id,
    )
    request.receipt = receipt
    request.result_code = 0
    request.completed_at = utcnow()
    if transaction is None:
        # The receipt came first by C2B confirmation: already in the books.
        handled = await _repeat(session, receipt, amount)
        existing = await session.get(MpesaTransaction, handled.transaction_id)
        request.status = RequestStatus.PAID
        request.payment_id = existing.payment_id if existing else None
        await session.flush()
        return handled
    transaction_id = transaction.id
    if amount != request.amount:
        # Held for staff before any payer is named: a first-time portal buyer's account
        # is made only for the money that was asked.
        detail = f"asked {request.amount}, paid {amount}"
        return await _hold_for_staff(session, request, transaction, "amount_mismatch", detail)
    subscriber_id = await payer_of(session, request)
    if subscriber_id is None:
        detail = f"request {request.id} names no subscriber and none claimed it"
        return await _hold_for_staff(session, request, transaction, "no_payer", detail)
    transaction.subscriber_id = subscriber_id
    reference = receipt or f"STK-{request.checkout_request_id}"[:100]
    credited = await credit(
        session, transaction, subscriber_id, actor=MPESA, raw=raw, reference=reference
    )
    request.status = RequestStatus.PAID if credited else RequestStatus.REVIEW
    request.payment_id = transaction.payment_id
    await session.flush()
    return Handled(
        {},
        CallbackOutcome.CREDITED if credited else CallbackOutcome.UNMATCHED,
        flag=None if credited else transaction.flag,
        detail=None if credited else transaction.detail,
        transaction_id=transaction_id,
        receipt=receipt,
    )


async def _hold_for_staff(
    session: AsyncSession,
    request: MpesaRequest,
    transaction: MpesaTransaction,
    flag: str,
    detail: str,
) -> Handled:
    """A paid request whose money waits in the unmatched queue for staff, flagged why."""
    transaction.flag = flag
    transaction.detail = detail
    request.status = RequestStatus.REVIEW
    await session.flush()
    return Handled(
        {},
        CallbackOutcome.FLAGGED,
        flag=flag,
        detail=detail,
        transaction_id=transaction.id,
        receipt=transaction.receipt,
    )


async def _stk_repeat(
    session: AsyncSession, request: MpesaRequest, amount: int, receipt: str | None
) -> Handled:
    transaction = await session.scalar(
        select(MpesaTransaction).where(MpesaTransaction.request_id == request.id).with_for_update()
    )
    if transaction is None:
        return Handled({}, CallbackOutcome.DUPLICATE, receipt=receipt)
    if transaction.amount != amount or (
        receipt and transaction.receipt and transaction.receipt != receipt
    ):
        raise Flagged(
            "changed_replay",
            f"request {request.id} came again as {receipt} for {amount}, "
            f"first as {transaction.receipt} for {transaction.amount}",
        )
    if receipt and transaction.receipt is None:
        # Settled by STK Query, which tells no receipt; the late callback does.
        taken = await session.scalar(
            select(MpesaTransaction.id).where(MpesaTransaction.receipt == receipt)
        )
        if taken is not None:
            raise Flagged(
                "receipt_credited_twice",
                f"request {request.id} was settled by STK Query and its receipt {receipt} "
                f"also came as payment {taken}: check for a double credit",
            )
        transaction.receipt = request.receipt = receipt
        await session.flush()
    return Handled({}, CallbackOutcome.DUPLICATE, transaction_id=transaction.id, receipt=receipt)
