"""/me test helpers: a subscriber with a phone and a paid prepaid service, and signing in
through the real pages (the code read from the SMS queued in the message log)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import httpx
import pytest
from kiunga.channels.messages.models import Message
from kiunga.platform.db.base import utcnow
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy import select

STAFF = Actor.system("test")
FORM_TOKEN = re.compile(r'name="_ft" value="([^"]+)"')
CODE = re.compile(r"\b(\d{6})\b")
_receipts = itertools.count(1)


def form_token(html: str) -> str:
    match = FORM_TOKEN.search(html)
    assert match, "the page has no form token"
    return match.group(1)


@dataclass
class Customer:
    subscriber_id: int
    account_number: str
    phone: str
    service_id: int | None = None


@pytest.fixture
def customer(unit_of_work, add_package):
    async def make(
        phone: str = "+254712345678", *, schema=None, name="Achieng Otieno", paid=True, **package
    ) -> Customer:
        package_id = await add_package(schema=schema, **package)
        async with unit_of_work(schema) as session:
            subscriber = await create_subscriber(
                session,
                SubscriberFields(name=name, phones=[phone]),
                actor=STAFF,
                status=SubscriberStatus.PENDING_INSTALLATION,
            )
            service = await create_service(
                session,
                NewService(subscriber_id=subscriber.id, package_id=package_id),
                actor=STAFF,
                activate=False,
            )
            found = Customer(subscriber.id, subscriber.account_number, phone, service.id)
        if paid:
            async with unit_of_work(schema) as session:
                await record_payment(
                    session,
                    found.subscriber_id,
                    package.get("price", 150_000),
                    method="mpesa",
                    reference=f"MC{next(_receipts):08d}",
                    received_at=utcnow(),
                    actor=Actor.system("mpesa"),
                )
        return found

    return make


async def last_code(unit_of_work, phone: str, schema=None) -> str | None:
    """The code in the latest sign-in SMS queued for `phone`."""
    async with unit_of_work(schema) as session:
        body = await session.scalar(
            select(Message.body)
            .where(Message.phone == phone, Message.kind == "sign_in_code")
            .order_by(Message.id.desc())
            .limit(1)
        )
    return CODE.search(body).group(1) if body else None


@pytest.fixture
def sign_in(unit_of_work):
    """Sign `client` in as `phone` through the pages; returns the account page."""

    async def sign_in_(client: httpx.AsyncClient, phone: str, schema=None) -> httpx.Response:
        start = await client.get("/me")
        asked = await client.post("/me/code", data={"phone": phone, "_ft": form_token(start.text)})
        assert asked.status_code == 200, asked.text
        code = await last_code(unit_of_work, phone, schema)
        assert code, "no sign-in SMS was queued"
        done = await client.post(
            "/me/verify", data={"phone": phone, "code": code, "_ft": form_token(asked.text)}
        )
        assert done.status_code == 303, done.text
        return await client.get("/me")

    return sign_in_
