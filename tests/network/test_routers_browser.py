"""On a phone-sized screen in Chromium: an owner adds a router, tests the connection to an
emulated MikroTik and sees its status, then a wrong field shown beside it."""

from __future__ import annotations

import re

from fixtures.browser import fits_the_screen
from fixtures.provisioning import ROUTER_PASSWORD


async def test_owner_adds_a_router_and_tests_it(server, phone, make_tenant, mikrotik):
    tenant = make_tenant(name="Ruiru Fibre")
    origin = f"http://{tenant.host}:{server}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", "correct horse battery")
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")

    await phone.goto(origin + "/routers")
    await phone.click("a:has-text('Add a router')")
    await phone.wait_for_url(origin + "/routers/new")
    assert await fits_the_screen(phone)
    await phone.fill("input[name=name]", "Core Ruiru")
    await phone.fill("input[name=address]", "127.0.0.1")
    await phone.fill("input[name=api_port]", str(mikrotik.port))
    await phone.fill("input[name=api_username]", "kiunga")
    await phone.fill("input[name=api_password]", ROUTER_PASSWORD)
    await phone.click("button:has-text('Add')")
    await phone.wait_for_url(re.compile(r".*/routers/\d+\?notice=.*"))
    assert "never checked" in await phone.locator("dl").first.inner_text()

    await phone.click("button:has-text('Test connection')")
    await phone.locator(".notice", has_text="core-westlands").wait_for()
    status = await phone.locator("dl").first.inner_text()
    assert "online" in status and "7.18.2" in status and "MiB free" in status
    assert await fits_the_screen(phone)
    assert ROUTER_PASSWORD not in await phone.content()

    await phone.fill("input[name=coa_port]", "70000")
    await phone.evaluate("document.querySelector('input[name=coa_port]').removeAttribute('max')")
    await phone.click("button:has-text('Save')")
    error = phone.locator("#router-coa_port-error")
    await error.wait_for()
    assert "65535" in await error.inner_text()

    await phone.goto(origin + "/routers")
    row = phone.locator("tr", has_text="Core Ruiru")
    assert "online" in await row.inner_text()
