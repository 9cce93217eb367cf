"""Which subscriber a C2B payment is for: the account number typed (case and spaces
ignored), else the paying phone when exactly one subscriber has it."""

from __future__ import annotations

from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


def clean_reference(bill_ref: str | None) -> str:
    return "".join((bill_ref or "").split()).upper()


async def subscriber_by_account(session: AsyncSession, account: str | None) -> int | None:
    account = clean_reference(account)
    if not account or len(account) > 12:
        return None
    return await session.scalar(select(Subscriber.id).where(Subscriber.account_number == account))


async def subscriber_by_phone(session: AsyncSession, phone: str | None) -> int | None:
    if not phone:
        return None
    ids = list(
        await session.scalars(
            select(SubscriberPhone.subscriber_id)
            .where(SubscriberPhone.phone == phone)
            .distinct()
            .limit(2)
        )
    )
    return ids[0] if len(ids) == 1 else None


async def match_subscriber(
    session: AsyncSession, bill_ref: str | None, phone: str | None
) -> int | None:
    return await subscriber_by_account(session, bill_ref) or await subscriber_by_phone(
        session, phone
    )
