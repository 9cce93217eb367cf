"""The captive portal in Debian's Chromium on a phone-sized screen, reached the way a
hotspot user reaches it: a fake MikroTik router serves Kiunga's generated login.html, which
posts to the portal; the portal logs the device in by posting to the router's
link-login-only, where the fake router records the login and checks its CHAP response."""

from __future__ import annotations

import re

import pytest

from fixtures.browser import fits_the_screen

pytestmark = pytest.mark.slow

MAC = "AA:BB:CC:00:33:{:02X}"


async def _submit(page, selector: str) -> None:
    """Press a form's button and wait until the page it leads to has replaced this one."""
    await page.evaluate("window.__before_submit = true")
    await page.click(selector)
    await page.wait_for_function("window.__before_submit === undefined")
    await page.wait_for_load_state()


async def test_redeem_a_voucher_and_get_online_with_chap(
    phone, fake_router, isp, server, add_package, add_vouchers
):
    package_id = await add_package(name="Saa Moja")
    code = (await add_vouchers(package_id))[0]

    await phone.goto(fake_router.hotspot_url(MAC.format(1)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    assert "Saa Moja" in await phone.locator("main").inner_text()
    assert "KES 20" in await phone.locator("main").inner_text()
    assert await fits_the_screen(phone)

    await phone.fill("#code", code.lower())
    await phone.click("#redeem")
    await phone.locator("#logged-in").wait_for()
    [login] = fake_router.logins
    assert login.username == code
    assert login.chap_ok is True and login.password != code
    assert login.dst == "http://example.com/" and login.popup == "false"

    # The router's status.html sends the user to the portal's status page: time and data
    # left, and a log-out button that posts to the router.
    await phone.goto(fake_router.status_url(MAC.format(1)))
    await phone.wait_for_url(re.compile(r"/portal/status\?"))
    status = await phone.locator("#status").inner_text()
    assert "You are online" in status and "Saa Moja" in status and "Time left" in status
    await _submit(phone, "#logout")
    await phone.locator("#logged-out").wait_for()
    assert len(fake_router.logouts) == 1


async def test_redeem_with_javascript_off(
    phone_without_js, fake_router, isp, server, add_package, add_vouchers
):
    page = phone_without_js
    code = (await add_vouchers(await add_package()))[0]
    await page.goto(fake_router.hotspot_url(MAC.format(2)))
    # No script: the router's page shows its button.
    await page.click("button:has-text('Continue')")
    await page.wait_for_url(re.compile(r"/portal/login$"))
    await page.fill("#code", code)
    await page.click("#redeem")
    await page.click("#continue")  # the login form, posted by hand
    await page.locator("#logged-in").wait_for()
    assert fake_router.logins[-1].username == code and fake_router.logins[-1].chap_ok


async def test_a_wrong_code_says_so_and_the_router_error_is_shown(
    phone, fake_router, isp, server, add_package
):
    await add_package()
    await phone.goto(fake_router.hotspot_url(MAC.format(3), error="invalid password"))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    assert "invalid password" in await phone.locator("#router-error").inner_text()
    await phone.fill("#code", "NOTACODE9")
    await _submit(phone, "#redeem")
    message = phone.locator("#message")
    await message.wait_for()
    assert "That code is not valid here" in await message.inner_text()
    assert await phone.input_value("#code") == "NOTACODE9"
    assert fake_router.logins == []


async def test_the_sixth_wrong_code_in_a_minute_is_told_to_wait(
    phone, fake_router, isp, server, add_package
):
    await add_package()
    await phone.goto(fake_router.hotspot_url(MAC.format(4)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    for attempt in range(5):
        await phone.fill("#code", f"WRONG{attempt}X")
        await _submit(phone, "#redeem")
        assert "not valid" in await phone.locator("#message").inner_text()
    await phone.fill("#code", "WRONG5X")
    await _submit(phone, "#redeem")
    text = await phone.locator("#message").inner_text()
    assert re.search(r"Too many wrong codes\. Wait \d+ seconds", text), text


async def test_swahili_toggle(phone, fake_router, isp, server, add_package):
    await add_package(name="Saa Tatu", validity_count=3)
    await phone.goto(fake_router.hotspot_url(MAC.format(5)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    await phone.click("#lang-toggle")
    await phone.wait_for_url(re.compile(r"lang=sw"))
    body = await phone.locator("body").inner_text()
    assert "Una vocha?" in body and "Nunua kifurushi" in body and "kwa saa 3" in body
    await phone.fill("#code", "HAPANA22")
    await _submit(phone, "#redeem")
    assert "Namba hiyo si sahihi hapa" in await phone.locator("#message").inner_text()
    assert await phone.locator("html").get_attribute("lang") == "sw"


@pytest.fixture
def router_of_a_secure_portal(isp, server, engine):
    """A router whose pages name the ISP's portal on a secure origin, as every real portal
    is (https); here a domain of the ISP's under .localhost, which browsers treat as secure."""
    from kiunga.channels.portal.router_files import login_html, status_html
    from kiunga.platform.models import DomainKind, TenantDomain
    from sqlalchemy.orm import Session

    from .fake_router import FakeRouter

    host = f"{isp.slug}.localhost"
    with Session(engine) as session, session.begin():
        session.add(TenantDomain(tenant_id=isp.id, host=host, kind=DomainKind.CUSTOM))
    portal = f"{host}:{server}"
    router = FakeRouter(
        login_html(portal, isp.name, scheme="http"), status_html(portal, isp.name, scheme="http")
    ).start()
    yield router
    router.stop()


async def test_swahili_holds_through_the_routers_pages(
    phone, router_of_a_secure_portal, isp, add_package, add_vouchers
):
    """The router's pages come from its own site: its status.html (a GET) and its
    login.html after a refusal (a cross-site POST) still bring the phone's language."""
    fake_router = router_of_a_secure_portal
    code = (await add_vouchers(await add_package(name="Saa Nne", validity_count=4)))[0]
    await phone.goto(fake_router.hotspot_url(MAC.format(9)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    await phone.click("#lang-toggle")
    await phone.wait_for_url(re.compile(r"lang=sw"))
    await phone.fill("#code", code)
    await phone.click("#redeem")
    await phone.locator("#logged-in").wait_for()

    await phone.goto(fake_router.status_url(MAC.format(9)))
    await phone.wait_for_url(re.compile(r"/portal/status\?"))
    status = await phone.locator("#status").inner_text()
    assert "Uko mtandaoni" in status and "Muda uliobaki" in status, status
    assert await phone.locator("#logout").inner_text() == "Toka"

    await phone.goto(fake_router.hotspot_url(MAC.format(9), error="invalid password"))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    assert await phone.locator("html").get_attribute("lang") == "sw"
    assert "Hotspot imesema: invalid password" in await phone.locator("#router-error").inner_text()


async def test_opened_directly_shows_how_to_connect(phone, isp, server, add_package, add_vouchers):
    code = (await add_vouchers(await add_package()))[0]
    await phone.goto(f"http://{isp.host}:{server}/portal/?code={code}")
    assert "Connect to the Wi-Fi first" in await phone.locator("#join").inner_text()
    assert await phone.input_value("#code") == code
    assert await fits_the_screen(phone)
    await _submit(phone, "#redeem")
    assert "ready to use" in await phone.locator("#status").inner_text()


async def test_buy_with_mpesa_and_get_online_automatically(
    phone, fake_router, isp, server, add_package, with_mpesa
):
    await with_mpesa()
    await add_package(name="Saa Moja", price=2_000)
    await add_package(name="Siku Nzima", price=10_000, validity_count=1, validity_unit="day")

    await phone.goto(fake_router.hotspot_url(MAC.format(6)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    item = phone.locator("ul.packages li", has_text="Siku Nzima")
    await item.locator("button").click()
    await phone.wait_for_url(re.compile(r"/portal/buy\?"))
    await phone.fill("#phone", "0712 345 678")
    await _submit(phone, "#pay")
    assert "/portal/wait/" in phone.url
    waiting = await phone.locator("#waiting").inner_text()
    assert "KES 100" in waiting and "Siku Nzima" in waiting
    # The customer enters the PIN; the emulator calls Kiunga back; the waiting page, which
    # polls, moves on and the portal logs the device in.
    await phone.locator("#logged-in").wait_for(timeout=30_000)
    [login] = fake_router.logins
    assert login.chap_ok is True and len(login.username) >= 6


async def test_a_cancelled_payment_is_told_in_swahili(
    phone, fake_router, isp, server, add_package, with_mpesa
):
    await with_mpesa()
    await add_package(name="Saa Moja", price=2_000)
    await phone.goto(fake_router.hotspot_url(MAC.format(7)))
    await phone.wait_for_url(re.compile(r"/portal/login$"))
    await phone.click("#lang-toggle")
    await phone.wait_for_url(re.compile(r"lang=sw"))
    await phone.locator("ul.packages li button").click()
    await phone.wait_for_url(re.compile(r"/portal/buy\?"))
    await phone.fill("#phone", "0712341032")  # the emulator: the customer cancels
    await _submit(phone, "#pay")
    assert "Angalia simu yako" in await phone.locator("main").inner_text()
    message = phone.locator("#message")
    await message.wait_for(timeout=30_000)
    assert "Malipo hayakufanikiwa: ulighairi malipo." in await message.inner_text()
    assert fake_router.logins == []


async def test_buy_with_javascript_off(
    phone_without_js, fake_router, isp, server, add_package, with_mpesa
):
    page = phone_without_js
    await with_mpesa()
    await add_package(name="Saa Moja", price=2_000)
    await page.goto(fake_router.hotspot_url(MAC.format(8)))
    await page.click("button:has-text('Continue')")
    await page.wait_for_url(re.compile(r"/portal/login$"))
    await page.locator("ul.packages li button").click()
    await page.wait_for_url(re.compile(r"/portal/buy\?"))
    await page.fill("#phone", "0712345678")
    await page.click("#pay")
    await page.wait_for_url(re.compile(r"/portal/wait/"))
    # No script: the waiting page refreshes itself until the voucher is issued, then the
    # login form waits for the button.
    await page.locator("#continue").wait_for(timeout=30_000)
    assert "Your voucher code is" in await page.locator("#your-code").inner_text()
    await page.click("#continue")
    await page.locator("#logged-in").wait_for()
    [login] = fake_router.logins
    assert login.chap_ok is True
