"""Usage this period and the devices on a hotspot login, as RADIUS accounting records them."""

from __future__ import annotations

import pytest
from kiunga.channels.selfservice.errors import NotYours
from kiunga.channels.selfservice.usage import devices, remove_device, usage_this_period
from kiunga.platform.db.base import utcnow
from kiunga.tenants.network.radius.models import RadiusSession, UsagePeriod
from kiunga.tenants.services.models import Service
from kiunga.tenants.services.service import NewService, create_service

from .conftest import STAFF, pay

BOUND = "AA:BB:CC:00:11:22"
OTHER = "AA:BB:CC:00:11:33"


async def test_usage_devices_and_removing_one(customer, unit_of_work, add_package, topics):
    me = await customer(service=False)
    stranger = await customer("+254799000333", service=False)
    package_id = await add_package(
        service_type="hotspot", price=5_000, validity_unit="day", data_cap_bytes=2 * 10**9
    )
    await pay(unit_of_work, me.subscriber_id, 5_000)
    async with unit_of_work() as session:
        service = await create_service(
            session,
            NewService(
                subscriber_id=me.subscriber_id,
                package_id=package_id,
                username="achieng-phone",
                password="s3cret-pass",
                mac_address=BOUND.lower(),
            ),
            actor=STAFF,
        )
        session.add(
            UsagePeriod(
                service_id=service.id,
                period_start=service.period_start,
                input_octets=1_000,
                output_octets=50_000,
            )
        )
        now = utcnow()
        for number, station in enumerate(("aa-bb-cc-00-11-33", BOUND)):
            session.add(
                RadiusSession(
                    acct_session_id=f"8100000{number}",
                    username="achieng-phone",
                    service_id=service.id,
                    calling_station_id=station,
                    started_at=now,
                    updated_at=now,
                )
            )
        service_id = service.id
    async with unit_of_work() as session:
        usage = await usage_this_period(session, me.subscriber_id)
        [only] = usage.services
        assert (only.upload_bytes, only.download_bytes, usage.total_bytes) == (
            1_000,
            50_000,
            51_000,
        )
        assert only.data_cap_bytes == 2 * 10**9
        assert (await usage_this_period(session, stranger.subscriber_id)).services == []

        found = await devices(session, me.subscriber_id)
        assert [(d.mac, d.bound, d.online) for d in found] == [
            (BOUND, True, True),
            (OTHER, False, True),
        ]
        assert await devices(session, stranger.subscriber_id) == []
        with pytest.raises(NotYours):
            await remove_device(
                session, subscriber_id=stranger.subscriber_id, service_id=service_id, mac=BOUND
            )
        removed = await remove_device(
            session, subscriber_id=me.subscriber_id, service_id=service_id, mac=BOUND.lower()
        )
        assert removed.bound
    async with unit_of_work() as session:
        assert (await session.get(Service, service_id)).mac_address is None
    assert (
        "selfcare.device_removed",
        {"service_id": service_id, "subscriber_id": me.subscriber_id, "mac_address": BOUND},
    ) in await topics("selfcare.")
