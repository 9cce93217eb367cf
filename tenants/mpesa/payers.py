"""Who pays an STK request that names no subscriber yet.

A request may be sent before its payer has an account: the captive portal's first-time
buyer gets one only once the money arrives, so that a cancelled or ignored prompt leaves
nothing behind. When such a request is paid, intake asks the resolvers registered here, in
the payment's own transaction, which subscriber the money is for; the first that knows the
request answers (making the account if it must). M-Pesa never imports the areas that send
such requests: they list a hook of kind PAYER in their manifest (see kiunga.platform.hooks).

A paid request that no resolver claims is held for staff (flag `no_payer`), never lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kiunga.platform.hooks import Hook, hooks_for
from kiunga.tenants.mpesa.matching import clean_reference
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

PayerResolver = Callable[[AsyncSession, MpesaRequest], Awaitable[int | None]]

# A request without a payer asks Daraja for this account reference and its own id
# ("PAY123"): a C2B confirmation that comes before the STK callback names it.
PENDING_PAYER_PREFIX = "PAY"

# `resolver(session, request) -> subscriber id or None`, asked in the order of the areas.
PAYER = "mpesa.payer"


def payer_resolver(resolver: PayerResolver) -> Hook:
    """A manifest's entry: ask `resolver(session, request)` for a paid request's payer."""
    return Hook(PAYER, resolver)


def pending_payer_reference(request_id: int) -> str:
    return f"{PENDING_PAYER_PREFIX}{request_id}"


async def payer_of(session: AsyncSession, request: MpesaRequest) -> int | None:
    """The subscriber a locked request's money is for: the one it names, else the one a
    resolver names (then written on the request); None when nobody claims it."""
    if request.subscriber_id is not None:
        return request.subscriber_id
    for resolver in hooks_for(PAYER):
        subscriber_id = await resolver(session, request)
        if subscriber_id is not None:
            request.subscriber_id = subscriber_id
            await session.flush()
            return subscriber_id
    return None


async def request_awaiting_payer(
    session: AsyncSession, bill_ref: str | None, amount: int
) -> MpesaRequest | None:
    """The pending payer-less request a C2B confirmation names by its account reference
    and amount, locked; None when there is none."""
    reference = clean_reference(bill_ref)
    if not reference.startswith(PENDING_PAYER_PREFIX) or len(reference) > 12:
        return None
    return await session.scalar(
        select(MpesaRequest)
        .where(
            MpesaRequest.account_reference == reference,
            MpesaRequest.subscriber_id.is_(None),
            MpesaRequest.status == RequestStatus.PENDING,
            MpesaRequest.amount == amount,
        )
        .with_for_update()
    )
