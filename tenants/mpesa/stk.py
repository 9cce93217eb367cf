"""Asking a subscriber to pay: one service function for the console, the API and (later)
the portal and the channels. STK push → a pending request → its callback (intake), or STK
Query from the periodic settle job when no callback came.

The request is committed before Daraja is called, and Daraja is called outside any
transaction: no database connection waits on Safaricom, and a callback can never arrive
for a request the database does not know.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from kiunga.integrations.mpesa.client import (
    DarajaError,
    DarajaInvalidRequest,
    DarajaWrongCredentials,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.tenants.actors import Actor
from kiunga.tenants.mpesa.config import callback_token, callback_urls, credentials, settings_row
from kiunga.tenants.mpesa.errors import MpesaError, MpesaNotFound, MpesaUnavailable
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway
from kiunga.tenants.mpesa.intake import settle_paid, take_early_callbacks
from kiunga.tenants.mpesa.matching import clean_reference
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.mpesa.payers import PENDING_PAYER_PREFIX, pending_payer_reference
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.mpesa")

DESCRIPTION = "Internet"
# Safaricom gives the customer about a minute to enter the PIN; after this we ask.
QUERY_AFTER = timedelta(seconds=90)
# After this a request that Daraja still calls pending (or cannot answer about) is over.
EXPIRE_AFTER = timedelta(minutes=15)
_DARAJA_FIELDS = {"PhoneNumber": "phone", "PartyA": "phone", "Amount": "amount"}


@dataclass(frozen=True, slots=True)
class PaymentAsk:
    phone: str | None
    amount: object
    subscriber_id: int | None = None
    account_number: str | None = None
    # No subscriber yet: the payer is named when the money arrives (payers.py); `phone`
    # is then required.
    payer_when_paid: bool = False


def _amount(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MpesaError("amount", "amount must be a whole number of minor units (cents)")
    if value <= 0:
        raise MpesaError("amount", "amount must be more than zero")
    if value % 100:
        raise MpesaError("amount", "M-Pesa moves whole shillings: amount must be a multiple of 100")
    return value


async def _subscriber(session, ask: PaymentAsk) -> Subscriber:
    if ask.subscriber_id is not None:
        subscriber = await session.get(Subscriber, ask.subscriber_id)
        if subscriber is None:
            raise MpesaNotFound("subscriber_id", f"no subscriber with id {ask.subscriber_id}")
    elif ask.account_number:
        account = clean_reference(ask.account_number)
        subscriber = await session.scalar(
            select(Subscriber).where(Subscriber.account_number == account)
        )
        if subscriber is None:
            raise MpesaNotFound("account_number", f"no subscriber with account number {account}")
    else:
        raise MpesaError("subscriber_id", "name the subscriber: subscriber_id or account_number")
    if subscriber.status is SubscriberStatus.TERMINATED:
        raise MpesaError("subscriber_id", "the subscriber's account is terminated")
    return subscriber


def _phone(raw: str | None, subscriber: Subscriber | None) -> str:
    raw = (raw or "").strip() or (subscriber.primary_phone if subscriber else "")
    if not raw:
        raise MpesaError("phone", "phone is required (the subscriber has none on file)")
    try:
        phone = normalise_phone(raw)
    except InvalidPhone as exc:
        raise MpesaError("phone", str(exc)) from None
    if not phone.startswith("+254"):
        raise MpesaError("phone", "M-Pesa needs a Kenyan mobile number")
    return phone


async def request_payment(
    database: Database,
    schema: str,
    ask: PaymentAsk,
    *,
    actor: Actor,
    gateway_factory: GatewayFactory = daraja_gateway,
    on_request: Callable[[AsyncSession, MpesaRequest], Awaitable[None]] | None = None,
) -> MpesaRequest:
    """Send an STK push for `ask`; the pending request, or MpesaError naming the field.

    `on_request(session, request)` runs in the transaction that stores the request, before
    Daraja is called: what it writes (a portal purchase linked to the request) is there
    before any callback for the request can be processed."""
    amount = _amount(ask.amount)
    async with database.tenant_session(schema) as session, session.begin():
        row = await settings_row(session)
        creds = credentials(row)
        token = callback_token(row)
        if token is None:
            raise MpesaError("settings", "M-Pesa has no callback address yet: rotate the token")
        urls = callback_urls(token)
        if ask.payer_when_paid:
            request = MpesaRequest(
                subscriber_id=None,
                # Replaced by PAY<id> once the id is known (flush), before Daraja is called.
                account_reference=PENDING_PAYER_PREFIX,
                phone=_phone(ask.phone, None),
                amount=amount,
                status=RequestStatus.PENDING,
                requested_by=actor.label[:120],
            )
        else:
            subscriber = await _subscriber(session, ask)
            request = MpesaRequest(
                subscriber_id=subscriber.id,
                account_reference=subscriber.account_number,
                phone=_phone(ask.phone, subscriber),
                amount=amount,
                status=RequestStatus.PENDING,
                requested_by=actor.label[:120],
            )
        session.add(request)
        await session.flush()
        if ask.payer_when_paid:
            request.account_reference = pending_payer_reference(request.id)
            await session.flush()
        if on_request is not None:
            await on_request(session, request)
    try:
        accepted = await gateway_factory(creds).stk_push(
            phone=request.phone,
            amount_minor=amount,
            account_reference=request.account_reference,
            description=DESCRIPTION,
            callback_url=urls.stk,
        )
    except DarajaError as error:
        await _mark(database, schema, request.id, RequestStatus.FAILED, error.message)
        log.warning("stk push refused", code=error.code, request_id=request.id)
        if isinstance(error, DarajaInvalidRequest) and error.field in _DARAJA_FIELDS:
            raise MpesaError(_DARAJA_FIELDS[error.field], error.message) from None
        if isinstance(error, DarajaWrongCredentials):
            raise MpesaError("passkey", "Daraja refused the shortcode and passkey") from None
        raise MpesaUnavailable("mpesa", f"Daraja refused the request: {error.message}") from None
    async with database.tenant_session(schema) as session, session.begin():
        request = await session.get(MpesaRequest, request.id, with_for_update=True)
        request.merchant_request_id = accepted.merchant_request_id[:100] or None
        request.checkout_request_id = accepted.checkout_request_id[:100] or None
        await session.flush()
        if request.checkout_request_id:
            await take_early_callbacks(session, request.checkout_request_id)
            await session.refresh(request)
        return request


async def _mark(database, schema, request_id, status, desc, code=None) -> None:
    async with database.tenant_session(schema) as session, session.begin():
        request = await session.get(MpesaRequest, request_id, with_for_update=True)
        if request.status is RequestStatus.PENDING:
            request.status = status
            request.result_desc = (desc or "")[:2000]
            request.result_code = code
            request.completed_at = utcnow()


async def settle_pending(
    database: Database,
    schema: str,
    *,
    now: datetime | None = None,
    gateway_factory: GatewayFactory = daraja_gateway,
) -> dict[str, int]:
    """Ask Daraja about requests whose callback is late: paid ones are credited (once: the
    request row is locked and must still be pending), failed ones closed, and those still
    unanswered after EXPIRE_AFTER expired."""
    now = now or utcnow()
    report = {"paid": 0, "failed": 0, "expired": 0, "pending": 0}
    async with database.tenant_session(schema) as session:
        row = await settings_row(session)
        late = list(
            await session.scalars(
                select(MpesaRequest)
                .where(
                    MpesaRequest.status == RequestStatus.PENDING,
                    or_(
                        MpesaRequest.created_at < now - QUERY_AFTER,
                        MpesaRequest.checkout_request_id.is_(None)
                        & (MpesaRequest.created_at < now - EXPIRE_AFTER),
                    ),
                )
                .order_by(MpesaRequest.id)
                .limit(200)
            )
        )
    if not late:
        return report
    try:
        gateway = gateway_factory(credentials(row))
    except MpesaError:
        gateway = None
    for request in late:
        too_old = request.created_at < now - EXPIRE_AFTER
        result = None
        if gateway is not None and request.checkout_request_id:
            try:
                result = await gateway.stk_query(request.checkout_request_id)
            except DarajaError as error:
                log.info("stk query failed", code=error.code, request_id=request.id)
        if result is None or result.pending:
            if too_old:
                await _mark(database, schema, request.id, RequestStatus.EXPIRED, "no answer")
                report["expired"] += 1
            else:
                report["pending"] += 1
            continue
        if not result.succeeded:
            await _mark(
                database, schema, request.id, RequestStatus.FAILED,
                result.result_desc, result.result_code,
            )  # fmt: skip
            report["failed"] += 1
            continue
        async with database.tenant_session(schema) as session, session.begin():
            locked = await session.get(MpesaRequest, request.id, with_for_update=True)
            if locked.status is RequestStatus.PENDING:
                # STK Query tells no receipt: the payment's reference is the request's;
                # a late callback fills the receipt in and credits nothing more.
                await settle_paid(
                    session, locked, amount=None, receipt=None, paid_at=now,
                    phone=None, raw={"stk_query": result.result_desc},
                )  # fmt: skip
                report["paid"] += 1
    return report


async def list_requests(
    session, *, status: RequestStatus | None = None, subscriber_id: int | None = None,
    limit: int = 50, offset: int = 0,
) -> tuple[list[MpesaRequest], int]:  # fmt: skip
    query = select(MpesaRequest)
    if status is not None:
        query = query.where(MpesaRequest.status == status)
    if subscriber_id is not None:
        query = query.where(MpesaRequest.subscriber_id == subscriber_id)
    rows = await session.scalars(query.order_by(MpesaRequest.id.desc()).limit(limit).offset(offset))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return list(rows), int(total or 0)
