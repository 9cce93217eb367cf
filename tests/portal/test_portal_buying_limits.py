"""/portal/buy under attack: STK pushes are limited per source address, per device and
per phone, counted before the push is sent, so that nobody can aim a stream of payment
prompts at strangers' phones (each of which also made a customer record)."""

from __future__ import annotations

import asyncio
from collections import Counter

from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import func, select, update

from .test_portal_http import arrive

SOURCE_BUYS = 20  # per source address in ten minutes
DEVICE_BUYS = 3
PHONE_BUYS = 3


def _phone(n: int) -> str:
    return f"0712{n:06d}"


async def _buy(client, package_id: int, phone: str, **router) -> int:
    _, fields = await arrive(client, **router)
    form = {key: fields[key] for key in ("rs", "lang", "_pt")}
    answer = await client.post("/portal/buy", data={**form, "package": package_id, "phone": phone})
    assert answer.status_code in (303, 400, 429), answer.text
    return answer.status_code


async def _hotspot_customers(unit_of_work) -> int:
    async with unit_of_work() as session:
        query = select(func.count()).where(Subscriber.name.like("Hotspot %"))
        return int(await session.scalar(query))


async def test_a_burst_of_pushes_from_one_source_stops_at_its_limit(
    client_for, isp, add_package, with_mpesa, unit_of_work
):
    await with_mpesa()
    package_id = await add_package()
    client = client_for(isp.host, client_ip="198.51.100.51")
    # Forged devices, 25 strangers' phones, all at once.
    statuses = Counter(
        await asyncio.gather(
            *(
                _buy(client, package_id, _phone(500 + n), mac=f"AA:BB:CC:30:00:{n:02X}")
                for n in range(25)
            )
        )
    )
    assert statuses[303] <= SOURCE_BUYS, statuses
    assert statuses[429] >= 25 - SOURCE_BUYS, statuses
    async with unit_of_work() as session:
        pushes = await session.scalar(select(func.count()).select_from(MpesaRequest))
    assert pushes == statuses[303]
    assert await _hotspot_customers(unit_of_work) <= SOURCE_BUYS
    # Another source is not held back.
    elsewhere = client_for(isp.host, client_ip="198.51.100.52")
    assert await _buy(elsewhere, package_id, _phone(600), mac="AA:BB:CC:30:01:01") == 303


async def test_one_device_and_one_phone_have_limits_of_their_own(
    client_for, isp, add_package, with_mpesa, unit_of_work
):
    await with_mpesa()
    package_id = await add_package()

    async def answered_at_once() -> None:
        # The phone's earlier prompt was cancelled, so the next may be sent.
        async with unit_of_work() as session:
            await session.execute(update(MpesaRequest).values(status=RequestStatus.FAILED))

    device = {"mac": "AA:BB:CC:31:00:01"}
    for n in range(DEVICE_BUYS):
        client = client_for(isp.host, client_ip=f"198.51.100.{60 + n}")
        assert await _buy(client, package_id, _phone(700 + n), **device) == 303
    client = client_for(isp.host, client_ip="198.51.100.69")
    assert await _buy(client, package_id, _phone(710), **device) == 429

    victim = _phone(800)
    for n in range(PHONE_BUYS):
        await answered_at_once()
        client = client_for(isp.host, client_ip=f"198.51.100.{70 + n}")
        assert await _buy(client, package_id, victim, mac=f"AA:BB:CC:32:00:{n:02X}") == 303
    await answered_at_once()
    client = client_for(isp.host, client_ip="198.51.100.79")
    assert await _buy(client, package_id, "+254712000800", mac="AA:BB:CC:32:00:FF") == 429


async def test_a_mistyped_phone_does_not_use_the_budget_up(
    client_for, isp, add_package, with_mpesa
):
    await with_mpesa()
    package_id = await add_package()
    client = client_for(isp.host, client_ip="198.51.100.81")
    device = {"mac": "AA:BB:CC:33:00:01"}
    for _ in range(DEVICE_BUYS + 2):
        assert await _buy(client, package_id, "12345", **device) == 400
    assert await _buy(client, package_id, _phone(900), **device) == 303
