"""A redeemed voucher on the network: through the RADIUS server `kiunga radius` runs (asked
by Debian's radclient), a bound voucher admits only its device and a package's
shared_users caps the devices logged in at once; a voucher's data cap ends it; on an
api-mode router (the RouterOS emulator) the voucher's hotspot user carries its MAC address
and its profile the package's shared-users."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.network.provisioning.runner import run_queues
from kiunga.tenants.network.radius.subscribers import DEVICES_IN_USE, OTHER_DEVICE
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.codes import random_codes
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from kiunga.tenants.vouchers.redeem import redeem_voucher
from sqlalchemy import select

_here = Path(__file__).resolve().parents[1] / "network"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


_network = _load(_here / "conftest.py", "kiunga_tests_network_fixtures_vouchers")
_radius = _load(_here / "radius" / "conftest.py", "kiunga_tests_radius_fixtures_vouchers")
_provisioning = _load(
    _here / "provisioning" / "conftest.py", "kiunga_tests_provisioning_fixtures_vouchers"
)

# The RADIUS server with an ISP whose radius-mode router sends from 127.0.0.1, and the
# RouterOS emulator with the provisioning helpers.
mikrotik = _network.mikrotik
router_listener = _radius.router_listener
isp = _radius.isp
radius = _radius.radius
_needs_radclient = _radius._needs_radclient
add_service = _radius.add_service
make_isp = _provisioning.make_isp
eventually = _radius.eventually
SECRET = _radius.SECRET
HOTSPOT_PROFILE = _provisioning.HOTSPOT_PROFILE
HOTSPOT_USER = _provisioning.HOTSPOT_USER

PHONE = "AA:BB:CC:00:11:22"
LAPTOP = "AA:BB:CC:00:11:33"
TABLET = "AA:BB:CC:00:11:44"
_numbers = itertools.count(1)


async def _voucher_of(unit_of_work, schema: str, *, mac_binding=False, **package) -> str:
    """A new voucher of a fresh hotspot package; returns its code."""
    (code,) = random_codes(1, 10, prefix="N")
    async with unit_of_work(schema) as session:
        row = Package(
            name=f"Hour {next(_numbers)}",
            price=2_000,
            currency="KES",
            billing_type=BillingType.PREPAID,
            validity_count=1,
            validity_unit=ValidityUnit.HOUR,
            service_type=ServiceType.HOTSPOT,
            rate_limit="2M/2M",
            **package,
        )
        session.add(row)
        await session.flush()
        batch = VoucherBatch(
            package_id=row.id,
            count=1,
            price=2_000,
            currency="KES",
            code_length=10,
            alphabet="23456789ABCDEFGHJKMNPQRSTUVWXYZ",
            mac_binding=mac_binding,
        )
        session.add(batch)
        await session.flush()
        session.add(Voucher(batch_id=batch.id, code=code, status=VoucherStatus.SOLD))
    return code


async def _redeem(unit_of_work, schema: str, code: str, mac: str):
    async with unit_of_work(schema) as session:
        return await redeem_voucher(session, code, mac=mac, ip="10.5.0.9")


async def _auth(radius, code: str, device: str | None, password: str | None = None):
    attributes = {"User-Name": code, "User-Password": password or code}
    if device is not None:
        attributes["Calling-Station-Id"] = device
    return await _radius.radclient(radius.auth_port, "auth", SECRET, attributes)


async def _acct(radius, status: str, session_id: str, code: str, device: str, **extra):
    attributes = {
        "Acct-Status-Type": status,
        "Acct-Session-Id": session_id,
        "User-Name": code,
        "Calling-Station-Id": device,
        "NAS-IP-Address": "127.0.0.1",
        **extra,
    }
    reply = await radius.acct(attributes)
    assert reply.code == "Accounting-Response", reply.output


def _cached(radius, schema: str, code: str):
    return radius.authorizer.users.get(schema, {}).get(code.lower())


async def test_a_bound_voucher_is_admitted_only_from_its_device(radius, isp, unit_of_work):
    code = await _voucher_of(unit_of_work, isp.schema, mac_binding=True)
    await _redeem(unit_of_work, isp.schema, code, PHONE.lower().replace(":", "-"))
    await eventually(lambda: _cached(radius, isp.schema, code))

    accepted = await _auth(radius, code, PHONE)
    assert accepted.code == "Access-Accept", accepted.output
    assert 3500 < int(accepted["Session-Timeout"]) <= 3600
    elsewhere = await _auth(radius, code, LAPTOP)
    assert elsewhere.code == "Access-Reject"
    assert elsewhere["Reply-Message"] == OTHER_DEVICE
    assert (await _auth(radius, code, None))["Reply-Message"] == OTHER_DEVICE
    # Only someone who knows the password learns why.
    guessed = await _auth(radius, code, LAPTOP, password="not-it")
    assert guessed["Reply-Message"] == "Wrong password"


async def test_one_device_at_a_time_unless_the_package_shares(radius, isp, unit_of_work):
    single = await _voucher_of(unit_of_work, isp.schema)
    shared = await _voucher_of(unit_of_work, isp.schema, shared_users=2)
    for code in (single, shared):
        await _redeem(unit_of_work, isp.schema, code, PHONE)
        await eventually(lambda code=code: _cached(radius, isp.schema, code))

    assert (await _auth(radius, single, PHONE)).code == "Access-Accept"
    await _acct(radius, "Start", "s-1", single, PHONE)
    await eventually(lambda: _cached(radius, isp.schema, single).sessions)

    second = await _auth(radius, single, LAPTOP)
    assert second.code == "Access-Reject", second.output
    assert second["Reply-Message"] == DEVICES_IN_USE
    # The same device again is not a second device.
    assert (await _auth(radius, single, PHONE)).code == "Access-Accept"
    await _acct(radius, "Stop", "s-1", single, PHONE, **{"Acct-Session-Time": 60})
    await eventually(lambda: not _cached(radius, isp.schema, single).sessions)
    assert (await _auth(radius, single, LAPTOP)).code == "Access-Accept"

    await _acct(radius, "Start", "s-2", shared, PHONE)
    await _acct(radius, "Start", "s-3", shared, LAPTOP)
    await eventually(lambda: len(_cached(radius, isp.schema, shared).sessions) == 2)
    third = await _auth(radius, shared, TABLET)
    assert third["Reply-Message"] == DEVICES_IN_USE
    assert (await _auth(radius, shared, LAPTOP)).code == "Access-Accept"


async def test_a_session_the_router_stopped_reporting_does_not_count(radius, isp, unit_of_work):
    code = await _voucher_of(unit_of_work, isp.schema)
    await _redeem(unit_of_work, isp.schema, code, PHONE)
    await eventually(lambda: _cached(radius, isp.schema, code))
    # Last heard 400 s ago: more than twice the interim interval (60 s) of these tests.
    await _acct(radius, "Start", "lost-1", code, PHONE, **{"Acct-Delay-Time": 400})
    await eventually(lambda: _cached(radius, isp.schema, code).sessions)
    assert (await _auth(radius, code, LAPTOP)).code == "Access-Accept"


async def test_a_voucher_ends_when_its_data_runs_out(radius, isp, unit_of_work):
    code = await _voucher_of(unit_of_work, isp.schema, data_cap_bytes=50_000)
    redeemed = await _redeem(unit_of_work, isp.schema, code, PHONE)
    await eventually(lambda: _cached(radius, isp.schema, code))
    accepted = await _auth(radius, code, PHONE)
    assert accepted["Mikrotik-Total-Limit"] == "50000"
    await _acct(radius, "Start", "cap-1", code, PHONE)
    await _acct(
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
    await eventually(lambda: _cached(radius, isp.schema, code) is None)
    assert (await _auth(radius, code, PHONE)).code == "Access-Reject"


async def test_an_api_mode_router_gets_the_voucher_user_and_its_profile(
    make_isp, mikrotik, unit_of_work
):
    """As a staff-activated hotspot service: the service.activated event's provisioning
    handler puts the user (bound to the device) and its package's profile on the router."""
    isp = make_isp()
    await isp.add_router(mikrotik)
    await isp.deliver()
    bound = await _voucher_of(
        unit_of_work, isp.schema, mac_binding=True, shared_users=1, data_cap_bytes=10**9
    )
    family = await _voucher_of(unit_of_work, isp.schema, shared_users=3)
    first = await _redeem(unit_of_work, isp.schema, bound, PHONE)
    second = await _redeem(unit_of_work, isp.schema, family, LAPTOP)
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
    before = len(_provisioning.changes_sent(mikrotik))
    again = await run_queues(isp.database, isp.schema, isp.slug, full_sync=True)
    assert again["applied"] == 1 and len(_provisioning.changes_sent(mikrotik)) == before
    assert second.service_id != first.service_id


async def test_a_voucher_gets_no_grace_after_its_validity(radius, isp, unit_of_work):
    """Renewing services keep ten minutes' grace for the lifecycle run to renew them; a
    voucher is never renewed, so RADIUS refuses it as soon as its time is up."""
    code = await _voucher_of(unit_of_work, isp.schema)
    async with unit_of_work(isp.schema) as session:
        await redeem_voucher(
            session, code, mac=PHONE, ip=None, now=datetime.now(UTC) - timedelta(minutes=61)
        )
    await eventually(lambda: _cached(radius, isp.schema, code))
    refused = await _auth(radius, code, PHONE)
    assert refused.code == "Access-Reject"
    assert refused["Reply-Message"] == "Subscription expired"


async def test_pppoe_logins_are_neither_bound_nor_capped(radius, isp, unit_of_work, add_service):
    service_id = await add_service(isp, "otieno-home", "home-pass-1")
    async with unit_of_work(isp.schema) as session:
        service = await session.get(Service, service_id)
        service.mac_address = PHONE
    await eventually(
        lambda: (
            (_cached(radius, isp.schema, "otieno-home") or None)
            and _cached(radius, isp.schema, "otieno-home").shared_users is None
        )
    )
    await _acct(radius, "Start", "ppp-1", "otieno-home", LAPTOP)
    await _acct(radius, "Start", "ppp-2", "otieno-home", TABLET)
    cached = _cached(radius, isp.schema, "otieno-home")
    assert cached.mac_address is None and cached.sessions == ()
    assert (await _auth(radius, "otieno-home", LAPTOP, password="home-pass-1")).code == (
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
