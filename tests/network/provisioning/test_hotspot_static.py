"""Hotspot and static-address services on an api-mode router: a hotspot user profile and
user, disabled and logged out on suspension; a simple queue at the package's rate for a
static address, which goes on the kiunga-suspended address list while cut off."""

from __future__ import annotations

from kiunga.tenants.catalog.models import ServiceType
from kiunga.tenants.network.provisioning.runner import run_queues
from kiunga.tenants.services.lifecycle import restore_service, suspend_service, terminate_service

from fixtures.provisioning import (
    ADDRESS_LIST,
    HOTSPOT_ACTIVE,
    HOTSPOT_PROFILE,
    HOTSPOT_USER,
    SIMPLE_QUEUE,
    STAFF,
    changes_sent,
)


async def test_a_hotspot_service(isp, mikrotik):
    package = await isp.add_package(ServiceType.HOTSPOT, rate_limit="1M/2M")
    service = await isp.add_service(package, username="hs-akinyi", password="hs-pass-7")
    await isp.deliver()

    # RouterOS has no comment on a hotspot user profile: the reserved name is the mark.
    [profile] = mikrotik.state.find(HOTSPOT_PROFILE, name=f"kiunga-{isp.slug}-pkg-{package}")
    assert profile["rate-limit"] == "1M/2M" and "comment" not in profile
    [user] = mikrotik.state.find(HOTSPOT_USER, name="hs-akinyi")
    assert user["password"] == "hs-pass-7" and user["profile"] == profile["name"]
    assert user["disabled"] == "false" and user["comment"] == f"kiunga:{isp.slug}:svc-{service}"

    mikrotik.state.login_hotspot("hs-akinyi")
    async with isp.session() as session:
        await suspend_service(session, service, reason="abuse report", actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(HOTSPOT_USER, name="hs-akinyi")[0]["disabled"] == "true"
    assert mikrotik.state.find(HOTSPOT_ACTIVE, user="hs-akinyi") == []

    async with isp.session() as session:
        await restore_service(session, service, actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(HOTSPOT_USER, name="hs-akinyi")[0]["disabled"] == "false"


async def test_a_static_address_service(isp, mikrotik):
    package = await isp.add_package(ServiceType.STATIC, rate_limit="3M/6M 4M/8M 2M/4M 8/8")
    service = await isp.add_service(package, static_ip="10.20.0.5")
    await isp.deliver()

    [queue] = mikrotik.state.find(SIMPLE_QUEUE, comment=f"kiunga:{isp.slug}:svc-{service}")
    assert queue["name"] == f"{isp.slug}-svc-{service}" and queue["target"] == "10.20.0.5/32"
    assert queue["max-limit"] == "3000000/6000000"  # the first pair, without the burst
    assert mikrotik.state.rows(ADDRESS_LIST) == []

    async with isp.session() as session:
        await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await isp.deliver()
    [entry] = mikrotik.state.rows(ADDRESS_LIST)
    assert (entry["list"], entry["address"]) == ("kiunga-suspended", "10.20.0.5")
    assert entry["comment"] == f"kiunga:{isp.slug}:svc-{service}"
    assert len(mikrotik.state.rows(SIMPLE_QUEUE)) == 1  # the queue stays

    async with isp.session() as session:
        await restore_service(session, service, actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.rows(ADDRESS_LIST) == []

    async with isp.session() as session:
        await terminate_service(session, service, reason="closed", actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.rows(SIMPLE_QUEUE) == []


async def test_full_sync_of_a_mixed_router_then_nothing_to_change(isp, mikrotik):
    ppp = await isp.add_package(rate_limit="5M/10M")
    hotspot = await isp.add_package(ServiceType.HOTSPOT, rate_limit="1M/1M")
    static = await isp.add_package(ServiceType.STATIC, rate_limit="20M/20M")
    await isp.add_service(ppp, username="mix-ppp", password="pw-mix-1")
    await isp.add_service(hotspot, username="mix-hs", password="pw-mix-2")
    suspended = await isp.add_service(static, static_ip="10.20.1.9")
    async with isp.session() as session:
        await suspend_service(session, suspended, reason="unpaid", actor=STAFF)
    await isp.add_service(ppp, username="never-paid", password="pw-mix-3", paid=False)

    # Wiped by hand (a router reset): the full sync puts everything back.
    await isp.deliver()
    for path in (HOTSPOT_USER, SIMPLE_QUEUE, ADDRESS_LIST, "/ppp/secret"):
        for row in mikrotik.state.rows(path):
            mikrotik.state.menus.remove(path, row[".id"])
    report = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert report["applied"] == 1 and report["failed"] == 0
    assert [r["name"] for r in mikrotik.state.rows("/ppp/secret")] == ["mix-ppp"]
    assert [r["name"] for r in mikrotik.state.rows(HOTSPOT_USER)] == ["mix-hs"]
    assert len(mikrotik.state.rows(SIMPLE_QUEUE)) == 1
    assert [r["address"] for r in mikrotik.state.rows(ADDRESS_LIST)] == ["10.20.1.9"]

    sent = len(changes_sent(mikrotik))
    again = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert again["applied"] == 1 and len(changes_sent(mikrotik)) == sent
    assert (await isp.commands())[-1].summary == "nothing to change"
