"""/me in Chromium on a phone-sized screen, JavaScript off: signing in with the SMS code
and every page fitting the screen, in English and Swahili."""

from __future__ import annotations

import pytest

from .conftest import last_code
from fixtures.browser import fits_the_screen

pytestmark = pytest.mark.slow


async def test_signing_in_and_every_page_fit_a_phone_without_javascript(
    kiunga, tenant, customer, unit_of_work, phone_without_js
):
    me = await customer("+254712345678", name="Achieng Otieno wa Nyamira Kisumu Mashariki")
    port = kiunga.url.rsplit(":", 1)[1]
    base = f"http://{tenant.host}:{port}"
    page = phone_without_js
    await page.goto(f"{base}/me")
    assert await fits_the_screen(page)
    await page.fill("#phone", "0712 345 678")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#code")
    await page.fill("#code", await last_code(unit_of_work, me.phone))
    await page.click("form[action='/me/verify'] button")
    await page.wait_for_selector("nav")
    assert me.account_number in await page.content()
    for path in (
        "/me",
        "/me/pay",
        "/me/usage",
        "/me/buy",
        "/me/devices",
        "/me/tickets",
        "/me/messages",
    ):
        for lang in ("en", "sw"):
            await page.goto(f"{base}{path}?lang={lang}")
            assert await fits_the_screen(page), (path, lang)
    await page.goto(f"{base}/me?lang=sw")
    assert "Akaunti" in await page.content()
