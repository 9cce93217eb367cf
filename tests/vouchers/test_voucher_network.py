"""A redeemed voucher on the network: through the RADIUS server `kiunga radius` runs (asked
by Debian's radclient), a bound voucher admits only its device and a package's
shared_users caps the devices logged in at once; a voucher's data cap ends it; on an
api-mode router (the RouterOS emulator) the voucher's hotspot user carries its MAC address
and its profile the package's shared-users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kiunga.tenants.network.provisioning.runner import run_queues
from kiunga.tenants.network.radius.subscribers import DEVICES_IN_USE, OTHER_DEVICE
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.models import Voucher, VoucherStatus
from kiunga.tenants.vouchers.redeem import redeem_voucher
from sqlalchemy import select

from fixtures.provisioning import HOTSPOT_PROFILE, HOTSPOT_USER, changes_sent
from fixtures.vouchers import (
    LAPTOP,
    PHONE,
    TABLET,
    cached,
    radius_acct,
    radius_auth,
    redeem,
    voucher_of,
)
from fixtures.waiting import eventually

pytestmark = pytest.mark.usefixtures("needs_radclient")


@pytest.fixture
def isp(radius_isp):
    """An ISP whose radius-mode router sends from 127.0.0.1."""
    return radius_isp


@pytest.fixture
def make_isp(make_provisioned_isp):
    """ISPs with an api-mode router on the RouterOS emulator."""
    return make_provisioned_isp


async def test_a_bound_voucher_is_admitted_only_from_its_device(radius, isp, unit_of_work):
    code = await voucher_of(unit_of_work, isp.schema, mac_binding=True)
    await redeem(unit_of_work, isp.schema, code, PHONE.lower().replace(":", "-"))
    await eventually(lambda: cached(radius, isp.schema, code))

    accepted = await radius_auth(radius, code, PHONE)
    assert accepted.code == "Access-Accept", accepted.output
    assert 3500 < int(accepted["Session-Timeout"]) <= 3600
    elsewhere = await radius_auth(radius, code, LAPTOP)
    assert elsewhere.code == "Access-Reject"
    assert elsewhere["Reply-Message"] == OTHER_DEVICE
    assert (await radius_auth(radius, code, None))["Reply-Message"] == OTHER_DEVICE
    # Only someone who knows the password learns why.
    guessed = await radius_auth(radius, code, LAPTOP, password="not-it")
    assert guessed["Reply-Message"] == "Wrong password"


async def test_one_device_at_a_time_unless_the_package_shares(radius, isp, unit_of_work):
    single = await voucher_of(unit_of_work, isp.schema)
    shared = await voucher_of(unit_of_work, isp.schema, shared_users=2)
    for code in (single, shared):
        await redeem(unit_of_work, isp.schema, code, PHONE)
        await eventually(lambda code=code: cached(radius, isp.schema, code))

    assert (await radius_auth(radius, single, PHONE)).code == "Access-Accept"
    await radius_acct(radius, "Start", "s-1", single, PHONE)
    await eventually(lambda: cached(radius, isp.schema, single).sessions)

    second = await radius_auth(radius, single, LAPTOP)
    assert second.code == "Access-Reject", second.output
    assert second["Reply-Message"] == DEVICES_IN_USE
    # The same device again is not a second device.
    assert (await radius_auth(radius, single, PHONE)).code == "Access-Accept"
    await radius_acct(radius, "Stop", "s-1", single, PHONE, **{"Acct-Session-Time": 60})
    await eventually(lambda: not cached(radius, isp.schema, single).sessions)
    assert (await radius_auth(radius, single, LAPTOP)).code == "Access-Accept"

    await radius_acct(radius, "Start", "s-2", shared, PHONE)
    await radius_acct(radius, "Start", "s-3", shared, LAPTOP)
    await eventually(lambda: len(cached(radius, isp.schema, shared).sessions) == 2)
    third = await radius_auth(radius, shared, TABLET)
    assert third["Reply-Message"] == DEVICES_IN_USE
    assert (await radius_auth(radius, shared, LAPTOP)).code == "Access-Accept"


async def test_a_session_the_router_stopped_reporting_does_not_count(radius, isp, unit_of_work):
    code = await voucher_of(unit_of_work, isp.schema)
    await redeem(unit_of_work, isp.schema, code, PHONE)
    await eventually(lambda: cached(radius, isp.schema, code))
    # Last heard 400 s ago: more than twice the interim interval (60 s) of these tests.
    await radius_acct(radius, "Start", "lost-1", code, PHONE, **{"Acct-Delay-Time": 400})
    await eventually(lambda: cached(radius, isp.schema, code).sessions)
    assert (await radius_auth(radius, code, LAPTOP)).code == "Access-Accept"


async def test_a_voucher_ends_when_its_data_runs_out(radius, isp, unit_of_work):
    code = await voucher_of(unit_of_work, isp.schema, data_cap_bytes=50_000)
    redeemed = await redeem(unit_of_work, isp.schema, code, PHONE)
    await eventually(lambda: cached(radius, isp.schema, code))
    accepted = await radius_auth(radius, code, PHONE)
    assert accepted["Mikrotik-Total-Limit"] == "50000"
    await radius_acct(radius, "Start", "cap-1", code, PHONE)
    await radius_acct(
        radius,
        "Interim-Update",
        "cap-1",
        code,
        PHONE,
        **{"Acct-Input-Octets": 20_000, "Acct-Output-Octets": 40_000},
    )

    async def ended():
        async with unit_of_work(isp.schema) as session:
            voucher = await session.scalar(select(Voucher).where(Voucher.code == code))
            return voucher.status is VoucherStatus.USED_UP and voucher

    voucher = await eventually(ended)
    assert voucher.ended_at is not None
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, redeemed.service_id)
        assert service.status is ServiceStatus.TERMINATED
    await eventually(lambda: cached(radius, isp.schema, code) is None)
    assert (await radius_auth(radius, code, PHONE)).code == "Access-Reject"


async def test_an_api_mode_router_gets_the_voucher_user_and_its_profile(
    make_isp, mikrotik, unit_of_work
):
    """As a staff-activated hotspot service: the service.activated event's provisioning
    handler puts the user (bound to the device) and its package's profile on the router."""
    isp = make_isp()
    await isp.add_router(mikrotik)
    await isp.deliver()
    bound = await voucher_of(
        unit_of_work, isp.schema, mac_binding=True, shared_users=1, data_cap_bytes=10**9
    )
    family = await voucher_of(unit_of_work, isp.schema, shared_users=3)
    first = await redeem(unit_of_work, isp.schema, bound, PHONE)
    second = await redeem(unit_of_work, isp.schema, family, LAPTOP)
    await isp.deliver()

    [user] = mikrotik.state.find(HOTSPOT_USER, name=bound)
    assert user["password"] == bound and user["disabled"] == "false"
    assert user["mac-address"] == PHONE
    assert user["limit-bytes-total"] == str(10**9)  # the router counts the bundle down
    assert user["comment"] == f"kiunga:{isp.slug}:svc-{first.service_id}"
    [profile] = mikrotik.state.find(HOTSPOT_PROFILE, name=user["profile"])
    assert profile["shared-users"] == "1"
    [other] = mikrotik.state.find(HOTSPOT_USER, name=family)
    assert not other.get("mac-address") and other.get("limit-bytes-total", "0") == "0"
    [profile] = mikrotik.state.find(HOTSPOT_PROFILE, name=other["profile"])
    assert profile["shared-users"] == "3"

    # The voucher's end takes the user off the router.
    async with unit_of_work(isp.schema) as session:
        voucher = await session.scalar(select(Voucher).where(Voucher.code == family))
        from kiunga.tenants.vouchers.redeem import revoke_live_service

        await revoke_live_service(session, voucher)
        voucher.status = VoucherStatus.REVOKED
    await isp.deliver()
    assert mikrotik.state.find(HOTSPOT_USER, name=family) == []
    # Reconciled in full, the router then has nothing to change (the bound user's MAC
    # and byte limit read back as written).
    await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert len(mikrotik.state.find(HOTSPOT_USER, name=bound)) == 1
    before = len(changes_sent(mikrotik))
    again = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert again["applied"] == 1 and len(changes_sent(mikrotik)) == before
    assert second.service_id != first.service_id


async def test_a_voucher_gets_no_grace_after_its_validity(radius, isp, unit_of_work):
    """Renewing services keep ten minutes' grace for the lifecycle run to renew them; a
    voucher is never renewed, so RADIUS refuses it as soon as its time is up."""
    code = await voucher_of(unit_of_work, isp.schema)
    async with unit_of_work(isp.schema) as session:
        await redeem_voucher(
            session, code, mac=PHONE, ip=None, now=datetime.now(UTC) - timedelta(minutes=61)
        )
    await eventually(lambda: cached(radius, isp.schema, code))
    refused = await radius_auth(radius, code, PHONE)
    assert refused.code == "Access-Reject"
    assert refused["Reply-Message"] == "Subscription expired"


async def test_pppoe_logins_are_neither_bound_nor_capped(radius, isp, unit_of_work, add_service):
    service_id = await add_service(isp, "otieno-home", "home-pass-1")
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, service_id)
        service.mac_address = PHONE
    await eventually(
        lambda: (
            (cached(radius, isp.schema, "otieno-home") or None)
            and cached(radius, isp.schema, "otieno-home").shared_users is None
        )
    )
    await radius_acct(radius, "Start", "ppp-1", "otieno-home", LAPTOP)
    await radius_acct(radius, "Start", "ppp-2", "otieno-home", TABLET)
    user = cached(radius, isp.schema, "otieno-home")
    assert user.mac_address is None and user.sessions == ()
    assert (await radius_auth(radius, "otieno-home", LAPTOP, password="home-pass-1")).code == (
        "Access-Accept"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("aa:bb:cc:00:11:22", PHONE),
        ("AA-BB-CC-00-11-22", PHONE),
        ("aabb.cc00.1122", PHONE),
        ("AABBCC001122", PHONE),
        ("not a mac", None),
        (None, None),
    ],
)
def test_calling_station_ids_as_mac_addresses(given, expected):
    from kiunga.tenants.network.radius.subscribers import device_mac

    assert device_mac(given) == expected
