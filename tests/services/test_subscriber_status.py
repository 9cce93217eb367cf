"""A subscriber's status follows their services, one by one or in bulk, the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.catalog.models import BillingType
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.services.subscriber_status import sync_subscriber_statuses
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus, SubscriberStatusChange
from sqlalchemy import func, select, update

STAFF = Actor.staff(3, "ops@isp.example")
NOW = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("bulk_from", [1, 1000])
async def test_suspended_services_suspend_their_subscribers(
    unit_of_work, add_subscriber, add_package, bulk_from
):
    package = await add_package(billing_type=BillingType.POSTPAID)
    subscribers = [await add_subscriber() for _ in range(3)]
    async with unit_of_work() as session:
        for subscriber_id in subscribers:
            await create_service(
                session,
                NewService(subscriber_id=subscriber_id, package_id=package),
                actor=STAFF,
                now=NOW,
            )
    async with unit_of_work() as session:
        await session.execute(
            update(Service)
            .where(Service.subscriber_id.in_(subscribers[:2]))
            .values(status=ServiceStatus.SUSPENDED)
        )
        changed = await sync_subscriber_statuses(
            session, subscribers, reason="overdue", actor=STAFF, bulk_from=bulk_from
        )
        assert changed == {s: SubscriberStatus.SUSPENDED for s in subscribers[:2]}
        # Nothing left to change: a second call does nothing.
        assert await sync_subscriber_statuses(session, subscribers, reason="x", actor=STAFF) == {}
    async with unit_of_work() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Subscriber.id, Subscriber.status).where(Subscriber.id.in_(subscribers))
                )
            ).all()
        )
        assert [statuses[s] for s in subscribers] == [
            SubscriberStatus.SUSPENDED,
            SubscriberStatus.SUSPENDED,
            SubscriberStatus.ACTIVE,
        ]
        history = (
            await session.execute(
                select(SubscriberStatusChange.from_status, SubscriberStatusChange.reason).where(
                    SubscriberStatusChange.subscriber_id.in_(subscribers[:2]),
                    SubscriberStatusChange.to_status == SubscriberStatus.SUSPENDED,
                )
            )
        ).all()
        assert history == [(SubscriberStatus.ACTIVE, "overdue")] * 2
        events = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(
                OutboxEvent.topic == "subscriber.status_changed",
                OutboxEvent.payload["to"].astext == "suspended",
            )
        )
        assert events == 2
