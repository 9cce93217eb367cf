"""A device removed on /me is disconnected at the router by the worker: a Disconnect-
Request for that device's session only, the login's other device left online."""

from __future__ import annotations

import pytest
from kiunga.channels.selfcare import jobs
from kiunga.channels.selfservice.usage import remove_device
from kiunga.platform.db.base import utcnow
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.network.radius.models import RadiusSession
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy import select

from .conftest import STAFF
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow

OLD_PHONE = "AA:BB:CC:00:00:01"
NEW_PHONE = "AA:BB:CC:00:00:02"


async def test_the_removed_device_alone_is_disconnected(
    radius_isp, router_listener, unit_of_work, start_worker
):
    isp = radius_isp
    async with unit_of_work(isp.schema) as session:
        subscriber = await create_subscriber(
            session, SubscriberFields(name="Otieno", phones=["+254712000111"]), actor=STAFF
        )
        package = Package(
            name="Family hotspot",
            price=0,
            currency="KES",
            billing_type="prepaid",
            validity_count=1,
            validity_unit="month",
            service_type="hotspot",
            rate_limit="2M/2M",
            shared_users=2,
        )
        session.add(package)
        await session.flush()
        service = await create_service(
            session,
            NewService(
                subscriber_id=subscriber.id,
                package_id=package.id,
                username="otieno-family",
                password="family-pass-1",
            ),
            actor=STAFF,
        )
        now = utcnow()
        for number, mac in enumerate((OLD_PHONE, NEW_PHONE), 1):
            session.add(
                RadiusSession(
                    router_id=isp.router_id,
                    acct_session_id=f"8800000{number}",
                    username="otieno-family",
                    service_id=service.id,
                    framed_ip=f"10.5.50.{number}",
                    calling_station_id=mac,
                    started_at=now,
                    updated_at=now,
                )
            )
        subscriber_id, service_id = subscriber.id, service.id

    await start_worker(jobs.register, "selfcare-devices")
    async with unit_of_work(isp.schema) as session:
        await remove_device(
            session, subscriber_id=subscriber_id, service_id=service_id, mac=OLD_PHONE
        )
    [request] = await router_listener.wait_for(1, within=30)
    assert request.kind == "disconnect"
    assert request.attributes["Acct-Session-Id"] == ["88000001"]

    async def closed():
        async with unit_of_work(isp.schema) as session:
            rows = await session.execute(
                select(RadiusSession.calling_station_id, RadiusSession.stopped_at).where(
                    RadiusSession.service_id == service_id
                )
            )
            return {mac: stopped is not None for mac, stopped in rows} == {
                OLD_PHONE: True,
                NEW_PHONE: False,
            }

    assert await eventually(closed)
    assert len(router_listener.received) == 1
