"""The Phone page in Chromium on a phone-sized screen, with JavaScript off (the page is
plain forms): sign in, dial the ISP's code, see the first screen, answer it to the end, text
the ISP and see the message in the inbox."""

from __future__ import annotations

import dataclasses

import pytest

from fixtures.browser import fits_the_screen
from fixtures.served import KiungaServer

OWNER_PASSWORD = "correct horse battery"


@pytest.fixture
def development_server(settings, database_url, redis_url, callback_recorder):
    """The app in development served on a real port; the emulators' callbacks go to the
    recording server (the conversations answer there until they are Kiunga's own)."""
    changed = dataclasses.replace(
        settings, environment="development", public_url=callback_recorder.url
    )
    server = KiungaServer(changed, database_url, redis_url).start()
    yield server
    server.stop()


async def test_dial_the_code_and_answer_each_screen(
    phone_without_js, development_server, seeded_isp
):
    page = phone_without_js
    tenant, seeded = seeded_isp
    origin = f"http://{tenant.host}:{development_server.url.rsplit(':', 1)[1]}"
    await page.goto(origin + "/login")
    await page.fill("input[name=email]", tenant.owner_email)
    await page.fill("input[name=password]", OWNER_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(origin + "/")
    assert await page.locator("nav a[href='/phone']").count() == 1

    await page.goto(origin + "/phone?phone=%2B254711000401")
    assert await page.input_value("form[action='/phone/ussd/dial'] input[name=code]") == (
        seeded.ussd_code
    )
    await page.click("form[action='/phone/ussd/dial'] button")
    screen = page.locator("#ussd-screen pre")
    await screen.wait_for()
    assert "Karibu Demo ISP" in await screen.inner_text()
    assert await fits_the_screen(page)

    await page.fill("form[action='/phone/ussd/reply'] input[name=input]", "2")
    await page.click("form[action='/phone/ussd/reply'] button")
    await page.wait_for_function(
        "document.querySelector('#ussd-screen pre')?.textContent.includes('Kiasi')"
    )
    await page.fill("form[action='/phone/ussd/reply'] input[name=input]", "1000")
    await page.click("form[action='/phone/ussd/reply'] button")
    await page.locator("#ussd-ended").wait_for()
    assert "Utapokea ombi la M-Pesa" in await page.locator("#ussd-screen pre").inner_text()

    await page.fill("form[action='/phone/sms'] input[name=text]", "SALIO")
    await page.click("form[action='/phone/sms'] button")
    await page.locator("#notice", has_text="SMS sent").wait_for()
    assert "SALIO" in await page.locator("#inbox").inner_text()
    assert await fits_the_screen(page)


async def test_a_message_to_the_phone_appears_without_reloading(
    phone, development_server, seeded_isp, at_emulator
):
    """With JavaScript the inbox refreshes itself: an SMS Kiunga sends (a receipt, say)
    shows on the open page."""
    from kiunga.integrations.africastalking.client import AfricasTalkingSms
    from kiunga.integrations.africastalking.emulator import DEMO_API_KEY, DEMO_USERNAME
    from kiunga.integrations.africastalking.interfaces import AtCredentials

    tenant, _ = seeded_isp
    origin = f"http://{tenant.host}:{development_server.url.rsplit(':', 1)[1]}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", OWNER_PASSWORD)
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")
    await phone.goto(origin + "/phone?phone=%2B254711000402")
    await phone.locator("#inbox-empty").wait_for()
    marker = await phone.evaluate("window.__kiunga_marker = Math.random()")

    sms = AfricasTalkingSms(max_workers=1)
    try:
        await sms.send(
            AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=at_emulator.url),
            to="+254711000402",
            message="Risiti: KES 1,000 imepokelewa",
            sender_id="KIUNGA",
        )
    finally:
        sms.close()
    await phone.locator("#inbox", has_text="Risiti: KES 1,000 imepokelewa").wait_for(timeout=30_000)
    assert await phone.evaluate("window.__kiunga_marker") == marker  # the same page
