"""A subscriber with a phone and a live prepaid service, made through the areas' own
services (a payment activates the service as it would in production)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber

STAFF = Actor.system("test")
_receipts = itertools.count(1)


@dataclass
class Customer:
    subscriber_id: int
    account_number: str
    phone: str
    service_id: int | None = None
    package_id: int | None = None


@pytest.fixture
def customer(unit_of_work, add_package):
    """`await customer(phone, paid=True, price=..., schema=...)`: a subscriber with the
    phone; with a package (a prepaid monthly PPPoE one unless told), a service paid and
    active."""

    async def make(
        phone: str = "+254712345678",
        *,
        service: bool = True,
        paid: bool = True,
        schema=None,
        name: str = "Achieng Otieno",
        **package,
    ) -> Customer:
        package_id = await add_package(schema=schema, **package) if service else None
        async with unit_of_work(schema) as session:
            subscriber = await create_subscriber(
                session,
                SubscriberFields(name=name, phones=[phone]),
                actor=STAFF,
                status=SubscriberStatus.PENDING_INSTALLATION,
            )
            found = Customer(subscriber.id, subscriber.account_number, phone)
            if package_id is not None:
                made = await create_service(
                    session,
                    NewService(subscriber_id=subscriber.id, package_id=package_id),
                    actor=STAFF,
                    activate=False,
                )
                found.service_id, found.package_id = made.id, package_id
        if package_id is not None and paid:
            await pay(unit_of_work, found.subscriber_id, package.get("price", 150_000), schema)
        return found

    return make


async def pay(unit_of_work, subscriber_id: int, amount: int, schema=None) -> None:
    from kiunga.platform.db.base import utcnow

    async with unit_of_work(schema) as session:
        await record_payment(
            session,
            subscriber_id,
            amount,
            method="mpesa",
            reference=f"RC{next(_receipts):08d}",
            received_at=utcnow(),
            actor=Actor.system("mpesa"),
        )
