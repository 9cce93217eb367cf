"""The subscriber behind a captive-portal buyer's phone.

A buyer who paid before is found again (their earlier purchases name them); a first-time
buyer's account ("Hotspot +2547…") is made only once their money arrives, in the payment's
own transaction: a prompt that is cancelled, ignored or sent to a stranger's phone leaves
no subscriber behind (the portal is open to anyone).

Never a home subscriber who happens to share the phone: the payment is credited to this
subscriber, and a home account's open invoices would take the money meant for the
voucher. The phone goes on file only when nobody else has it, so that paybill payments
matched by phone still find the home subscriber.
"""

from __future__ import annotations

from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.models import (
    Language,
    Subscriber,
    SubscriberPhone,
    SubscriberStatus,
)
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from kiunga.tenants.vouchers.models import HotspotPurchase
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

PORTAL = Actor.system("portal")


async def lock_phone(session: AsyncSession, phone: str) -> None:
    """Serialise what is done for one buyer's phone until the transaction ends: two first
    payments from one phone make one customer, two prompts at once are one too many."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"{session.info.get(TENANT_SCHEMA_KEY, '')}:hotspot-buyer:{phone}"},
    )


async def earlier_buyer(session: AsyncSession, phone: str) -> int | None:
    """The subscriber of this phone's latest paid-for purchase (not terminated), if any."""
    return await session.scalar(
        select(HotspotPurchase.subscriber_id)
        .join(Subscriber, Subscriber.id == HotspotPurchase.subscriber_id)
        .where(
            HotspotPurchase.phone == phone,
            Subscriber.status != SubscriberStatus.TERMINATED,
        )
        .order_by(HotspotPurchase.id.desc())
        .limit(1)
    )


async def buyer_subscriber(
    session: AsyncSession, phone: str, language: Language | None = None
) -> int:
    """The hotspot customer behind `phone`: the one found again, else a new one. Called
    once their money has arrived."""
    await lock_phone(session, phone)
    earlier = await earlier_buyer(session, phone)
    if earlier is not None:
        if language is not None:
            subscriber = await session.get(Subscriber, earlier)
            subscriber.language = language
            await session.flush()
        return earlier
    taken = await session.scalar(
        select(SubscriberPhone.id).where(SubscriberPhone.phone == phone).limit(1)
    )
    subscriber = await create_subscriber(
        session,
        SubscriberFields(
            name=f"Hotspot {phone}",
            phones=[] if taken else [phone],
            language=(language or Language.ENGLISH).value,
        ),
        actor=PORTAL,
        status=SubscriberStatus.ACTIVE,
    )
    return subscriber.id


def buyer_language(raw: object) -> Language | None:
    """The portal's language as the buyer chose it, or None when it is not one we speak."""
    try:
        return Language((raw or "").strip().lower()) if isinstance(raw, str) else None
    except ValueError:
        return None
