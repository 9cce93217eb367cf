"""The whole hotspot chain as a phone lives it, with every part real: Chromium opens the
hotspot emulator's login page, which is the login.html the router fetched from the ISP's
portal; the portal redeems the voucher and posts the login (CHAP) back to the router's
link-login-only; the router asks Kiunga's RADIUS server (CHAP-Password, Calling-Station-Id),
gets the package's speed and opens the session with an Accounting-Request, then serves the
ISP's status.html, which shows the portal's status page. A second phone with the same
voucher is refused by RADIUS (one device per voucher), and the router's refusal reaches the
user on the portal. Logging out there ends the session (Accounting Stop)."""

from __future__ import annotations

import re

import pytest
from kiunga.integrations.routeros.emulator.hotspot import HotspotEmulator
from kiunga.tenants.network.radius.models import RadiusSession
from kiunga.tenants.network.service import create_router, delete_router
from sqlalchemy import select

from fixtures.radius import running_radius
from fixtures.vouchers import cached
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow

SECRET = "hotspot-nas-secret-5521"


@pytest.fixture
async def nas(isp, unit_of_work):
    """The ISP's hotspot router as a RADIUS client sending from 127.0.0.1."""
    async with unit_of_work() as session:
        router = await create_router(
            session,
            isp.id,
            name="Hostel hotspot",
            address="127.0.0.1",
            mode="radius",
            radius_secret=SECRET,
            radius_source_address="127.0.0.1",
        )
        router_id = router.id
    yield router_id
    async with unit_of_work() as session:  # 127.0.0.1 is free for the next test
        await delete_router(session, isp.id, router_id)


@pytest.fixture
async def radius(nas, database_url, settings_env):
    """What `kiunga radius` runs, on free ports (the router exists first)."""
    async with running_radius(database_url) as running:
        yield running


@pytest.fixture
def hotspot(isp, server, radius):
    emulator = HotspotEmulator(
        login_html_url=f"http://{isp.host}:{server}/portal/router/login.html",
        portal_address="127.0.0.1",
        radius_host="127.0.0.1",
        auth_port=radius.auth_port,
        acct_port=radius.acct_port,
        secret=SECRET.encode(),
    ).start()
    yield emulator
    emulator.stop()


async def _open_sessions(unit_of_work, username: str) -> int:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(RadiusSession.id).where(
                RadiusSession.username == username, RadiusSession.stopped_at.is_(None)
            )
        )
        return len(list(rows))


async def _phone(browser):
    context = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    return context, await context.new_page()


async def test_a_voucher_gets_a_phone_online_through_radius_and_only_one(
    browser, hotspot, radius, isp, add_package, add_vouchers, unit_of_work
):
    package_id = await add_package(name="Saa Moja", shared_users=1)
    code = (await add_vouchers(package_id))[0]

    first, phone = await _phone(browser)
    try:
        await phone.goto(f"{hotspot.url}/login")
        await phone.wait_for_url(re.compile(r"/portal/login$"))
        await phone.fill("#code", code)
        await phone.click("#redeem")
        # The portal posts the login to the router, the router asks RADIUS and, accepted,
        # serves the ISP's status.html, which hands the phone to the portal's status page.
        await phone.wait_for_url(re.compile(r"/portal/status\?"))
        status = await phone.locator("#status").inner_text()
        assert "You are online" in status and "Saa Moja" in status and "Time left" in status
        [session] = hotspot.sessions.values()
        assert session.username == code and session.rate_limit == "2M/2M"
        assert 3500 <= session.session_timeout <= 3600

        async def started() -> bool:
            return await _open_sessions(unit_of_work, code) == 1

        await eventually(started)
        # The writer's NOTIFY reaches the RADIUS cache: it knows the device is online.
        await eventually(lambda: getattr(cached(radius, isp.schema, code), "sessions", None))

        # A second phone with the same code: the portal hands it the login, RADIUS
        # refuses a second device, and the router's error comes back to the portal's page.
        second, other = await _phone(browser)
        try:
            await other.goto(f"{hotspot.url}/login")
            await other.wait_for_url(re.compile(r"/portal/login$"))
            await other.fill("#code", code)
            await other.click("#redeem")
            await other.locator("#router-error").wait_for()
            assert "another device" in await other.locator("#router-error").inner_text()
        finally:
            await second.close()
        assert len(hotspot.sessions) == 1

        # Logging out on the portal's status page posts to the router's link-logout: the
        # session ends with an Accounting Stop.
        await phone.click("#logout")
        await phone.wait_for_url(re.compile(r"/portal/login$"))
    finally:
        await first.close()
    assert hotspot.sessions == {}

    async def stopped() -> bool:
        return await _open_sessions(unit_of_work, code) == 0

    await eventually(stopped)
