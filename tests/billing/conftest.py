"""Billing fixtures: subscribers are active unless told (the rest is shared, from
tests/fixtures/tenancy.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.models import SubscriberStatus

CASHIER = Actor.staff(7, "cashier@isp.example")
JAN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def add_subscriber(add_subscriber):
    async def add(status: SubscriberStatus = SubscriberStatus.ACTIVE, schema=None) -> int:
        return await add_subscriber(status, schema)

    return add
