"""The ISP's walk-in subscriber: the one account that holds the hotspot services of vouchers
redeemed by people Kiunga does not know (a printed voucher bought from an agent).

It is created on first need, and two redemptions racing to create it end with one row (the
account number is unique; the loser's insert does nothing and it reads the winner's).
Its status stays active: a voucher's service ending does not make it follow its services
(see ending.py), or it would end terminated once every voucher it ever held was used up.
"""

from __future__ import annotations

from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

WALK_IN_ACCOUNT = "HOTSPOT"
WALK_IN_NAME = "Hotspot vouchers"


async def walk_in_subscriber_id(session: AsyncSession) -> int:
    query = select(Subscriber.id, Subscriber.status).where(
        Subscriber.account_number == WALK_IN_ACCOUNT
    )
    found = (await session.execute(query)).first()
    if found is not None:
        if found.status is not SubscriberStatus.ACTIVE:
            # Staff ending its last voucher's service by hand made it follow that service;
            # it is nobody's account to close, so it comes back for the next voucher.
            await session.execute(
                update(Subscriber)
                .where(Subscriber.id == found.id)
                .values(status=SubscriberStatus.ACTIVE)
                .execution_options(synchronize_session=False)
            )
        return found.id
    created = await session.scalar(
        insert(Subscriber)
        .values(
            account_number=WALK_IN_ACCOUNT,
            name=WALK_IN_NAME,
            status=SubscriberStatus.ACTIVE,
            notes="Holds the hotspot services of redeemed vouchers.",
        )
        .on_conflict_do_nothing(index_elements=[Subscriber.account_number])
        .returning(Subscriber.id)
    )
    if created is not None:
        return created
    return (await session.execute(query)).first().id  # another redemption made it meanwhile
