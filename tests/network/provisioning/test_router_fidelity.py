"""Provisioning against the emulator's RouterOS 7 property tables: hotspot user profiles,
which have no comment on RouterOS, are known by a reserved name; sessions are cut only
when this ISP's secret or user let them in; a suspended static address is really cut off
because the router holds the rule that drops the suspended list."""

from __future__ import annotations

from kiunga.integrations.routeros.client import RouterOSClient
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.network.provisioning.runner import run_queues
from kiunga.tenants.services.lifecycle import restore_service, suspend_service, terminate_service

from fixtures.provisioning import (
    ADDRESS_LIST,
    HOTSPOT_ACTIVE,
    HOTSPOT_PROFILE,
    HOTSPOT_USER,
    PPP_ACTIVE,
    PPP_SECRET,
    STAFF,
    changes_sent,
)

FIREWALL_FILTER = "/ip/firewall/filter"


async def test_hotspot_profiles_are_named_not_commented(isp, mikrotik):
    package = await isp.add_package(ServiceType.HOTSPOT, rate_limit="1M/2M")
    await isp.add_service(package, username="hs-wairimu", password="hs-pass-8")
    await isp.deliver()

    [profile] = mikrotik.state.find(HOTSPOT_PROFILE, name=f"kiunga-{isp.slug}-pkg-{package}")
    assert "comment" not in profile and profile["rate-limit"] == "1M/2M"
    [user] = mikrotik.state.find(HOTSPOT_USER, name="hs-wairimu")
    assert user["profile"] == profile["name"]
    assert [c.last_error for c in await isp.commands()] == [None, None]

    # Renaming the package changes nothing on the router; a second sync sends nothing.
    async with isp.session() as session:
        (await session.get(Package, package)).name = "Renamed day pass"
    sent = len(changes_sent(mikrotik))
    report = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert report["applied"] == 1 and len(changes_sent(mikrotik)) == sent


async def test_only_this_isps_reserved_profile_names_are_reconciled(make_isp, mikrotik):
    isp = make_isp()
    await isp.add_router(mikrotik)
    # Another ISP whose slug starts with this one's, and a profile staff made by hand.
    other_slug = f"{isp.slug}-net"
    async with RouterOSClient(mikrotik.connection()) as admin:
        await admin.add(HOTSPOT_PROFILE, name=f"kiunga-{other_slug}-pkg-1", rate_limit="9M/9M")
        await admin.add(HOTSPOT_PROFILE, name=f"{isp.slug}-pkg-1", rate_limit="8M/8M")
        # What this ISP once made under its reserved name and no longer needs.
        await admin.add(HOTSPOT_PROFILE, name=f"kiunga-{isp.slug}-pkg-999999", rate_limit="1M/1M")
    by_hand = {
        row[".id"]: row
        for row in mikrotik.state.rows(HOTSPOT_PROFILE)
        if not row["name"].endswith("-999999")
    }

    package = await isp.add_package(ServiceType.HOTSPOT, rate_limit="2M/2M")
    await isp.add_service(package, username="hs-kamau", password="hs-pass-9")
    await isp.deliver()
    report = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert report["failed"] == 0 and report["refused"] == 0

    names = {row["name"] for row in mikrotik.state.rows(HOTSPOT_PROFILE)}
    assert names == {
        "default",
        f"kiunga-{other_slug}-pkg-1",
        f"{isp.slug}-pkg-1",
        f"kiunga-{isp.slug}-pkg-{package}",
    }
    for row in mikrotik.state.rows(HOTSPOT_PROFILE):
        if row[".id"] in by_hand:
            assert row == by_hand[row[".id"]]


async def test_suspension_never_cuts_a_session_another_secret_let_in(make_isp, mikrotik):
    isp = make_isp()
    await isp.add_router(mikrotik)
    neighbour = make_isp()  # another ISP on the same router
    await neighbour.add_router(mikrotik)
    async with RouterOSClient(mikrotik.connection()) as admin:
        await admin.add(PPP_SECRET, name="staff-link", password="staff-pw", profile="default")
        await admin.add(HOTSPOT_USER, name="staff-hs", password="staff-pw")
    package = await isp.add_package()
    hotspot = await isp.add_package(ServiceType.HOTSPOT, rate_limit="1M/1M")
    their_package = await neighbour.add_package()
    await neighbour.add_service(their_package, username="neighbour-1", password="pw-nb-1")
    await neighbour.deliver()
    assert mikrotik.state.find(PPP_SECRET, name="neighbour-1")

    # This ISP's services whose names are taken on the router (their adds are refused).
    clashes = [
        await isp.add_service(package, username="staff-link", password="pw-clash-1"),
        await isp.add_service(package, username="neighbour-1", password="pw-clash-2"),
        await isp.add_service(hotspot, username="staff-hs", password="pw-clash-3"),
    ]
    await isp.deliver()
    mikrotik.state.login_ppp("staff-link")
    mikrotik.state.login_ppp("neighbour-1")
    mikrotik.state.login_hotspot("staff-hs")
    for service in clashes:
        async with isp.session() as session:
            await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await isp.deliver()
    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)  # "Sync now"
    async with isp.session() as session:
        await terminate_service(session, clashes[0], reason="closed", actor=STAFF)
    await isp.deliver()

    assert mikrotik.state.find(PPP_ACTIVE, name="staff-link")
    assert mikrotik.state.find(PPP_ACTIVE, name="neighbour-1")
    assert mikrotik.state.find(HOTSPOT_ACTIVE, user="staff-hs")
    removed = [s for s in changes_sent(mikrotik) if s[0].endswith("/active/remove")]
    assert removed == []


async def test_suspension_and_termination_cut_this_isps_own_sessions(isp, mikrotik):
    package = await isp.add_package()
    hotspot = await isp.add_package(ServiceType.HOTSPOT, rate_limit="1M/1M")
    ppp = await isp.add_service(package, username="own-ppp", password="pw-own-1")
    hs = await isp.add_service(hotspot, username="own-hs", password="pw-own-2")
    gone = await isp.add_service(package, username="own-gone", password="pw-own-3")
    await isp.deliver()
    mikrotik.state.login_ppp("own-ppp")
    mikrotik.state.login_hotspot("own-hs")
    mikrotik.state.login_ppp("own-gone")
    for service in (ppp, hs):
        async with isp.session() as session:
            await suspend_service(session, service, reason="unpaid", actor=STAFF)
    async with isp.session() as session:
        await terminate_service(session, gone, reason="closed", actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(PPP_ACTIVE, name="own-ppp") == []
    assert mikrotik.state.find(HOTSPOT_ACTIVE, user="own-hs") == []
    assert mikrotik.state.find(PPP_ACTIVE, name="own-gone") == []
    assert mikrotik.state.find(PPP_SECRET, name="own-gone") == []


async def test_a_suspended_static_address_is_really_cut_off(isp, mikrotik):
    async with RouterOSClient(mikrotik.connection()) as admin:
        # A stock router's forward chain: established traffic accepted, everything allowed.
        await admin.add(
            FIREWALL_FILTER,
            chain="forward",
            action="accept",
            connection_state="established,related,untracked",
            comment="defconf: accept established,related,untracked",
        )
    package = await isp.add_package(ServiceType.STATIC, rate_limit="3M/3M")
    service = await isp.add_service(package, static_ip="10.20.0.5")
    await isp.deliver()
    assert mikrotik.state.forwards("10.20.0.5")

    async with isp.session() as session:
        await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.find(ADDRESS_LIST, address="10.20.0.5")
    assert not mikrotik.state.forwards("10.20.0.5")
    assert mikrotik.state.forwards("10.20.0.6")
    [rule, _defconf] = mikrotik.state.rows(FIREWALL_FILTER)  # placed first
    assert rule["comment"] == f"kiunga:{isp.slug}:suspended-drop"
    assert (rule["chain"], rule["action"], rule["src-address-list"]) == (
        "forward",
        "drop",
        "kiunga-suspended",
    )

    # Disabled by hand, it is enabled again by the next full sync.
    mikrotik.state.menus.set(FIREWALL_FILTER, rule[".id"], {"disabled": "yes"})
    assert mikrotik.state.forwards("10.20.0.5")
    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert not mikrotik.state.forwards("10.20.0.5")

    async with isp.session() as session:
        await restore_service(session, service, actor=STAFF)
    await isp.deliver()
    assert mikrotik.state.forwards("10.20.0.5")
