"""Which subscriber a C2B payment is for: the account number typed (case and spaces
ignored), else the paying phone when exactly one subscriber has it, whether Daraja sent the
number itself or its SHA-256 (as it does for C2B payers now)."""

from __future__ import annotations

from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


def clean_reference(bill_ref: str | None) -> str:
    return "".join((bill_ref or "").split()).upper()


async def subscriber_by_account(session: AsyncSession, account: str | None) -> int | None:
    account = clean_reference(account)
    if not account or len(account) > 12:
        return None
    return await session.scalar(select(Subscriber.id).where(Subscriber.account_number == account))


async def _only_subscriber(session: AsyncSession, where) -> int | None:
    ids = list(
        await session.scalars(
            select(SubscriberPhone.subscriber_id).where(where).distinct().limit(2)
        )
    )
    return ids[0] if len(ids) == 1 else None


async def subscriber_by_phone(session: AsyncSession, phone: str | None) -> int | None:
    if not phone:
        return None
    return await _only_subscriber(session, SubscriberPhone.phone == phone)


def _phone_digest():
    """SHA-256 (hex) of a stored E.164 phone without its "+", as Safaricom hashes an MSISDN."""
    digits = func.convert_to(func.ltrim(SubscriberPhone.phone, "+"), "UTF8")
    return func.encode(func.sha256(digits), "hex")


async def subscriber_by_phone_hash(session: AsyncSession, digest: str | None) -> int | None:
    if not digest:
        return None
    # Hashed in the query: an ISP's phones are few enough, and only payments whose account
    # did not match come here.
    return await _only_subscriber(session, _phone_digest() == digest.lower())


async def match_subscriber(
    session: AsyncSession,
    bill_ref: str | None,
    phone: str | None,
    msisdn_hash: str | None = None,
) -> int | None:
    return (
        await subscriber_by_account(session, bill_ref)
        or await subscriber_by_phone(session, phone)
        or await subscriber_by_phone_hash(session, msisdn_hash)
    )
