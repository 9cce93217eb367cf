"""The console in a real browser on a phone-sized screen: sign in, the dashboard, adding
and removing a site through htmx, signing out."""

from __future__ import annotations

import os

from fixtures.browser import fits_the_screen

SCREENSHOTS = os.environ.get("KIUNGA_SCREENSHOTS")


async def _shot(page, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


async def test_staff_member_works_the_console_on_a_phone(server, phone, make_tenant, settings):
    tenant = make_tenant(name="Kisumu Fibre")
    origin = f"http://{tenant.host}:{server}"

    await phone.goto(origin + "/")
    assert phone.url.startswith(origin + "/login")
    assert await fits_the_screen(phone)
    await _shot(phone, "login")

    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", "wrong password")
    await phone.click("button[type=submit]")
    assert "/login" in phone.url
    assert await phone.locator("input[name=password]").count() == 1  # still signing in

    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", "correct horse battery")
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")
    assert "Kisumu Fibre" in await phone.locator(".brand").inner_text()
    assert await fits_the_screen(phone)
    await _shot(phone, "dashboard")

    await phone.goto(origin + "/sites")
    marker = await phone.evaluate("window.__kiunga_marker = Math.random()")
    await phone.fill("#sites input[name=name]", "Nyalenda Tower")
    await phone.fill("#sites input[name=region]", "Kisumu")
    await phone.click("#sites button:has-text('Add')")
    row = phone.locator("#sites tbody tr", has_text="Nyalenda Tower")
    await row.wait_for()
    # htmx swapped the section in place: the page (and our marker) is the same one.
    assert await phone.evaluate("window.__kiunga_marker") == marker
    assert await fits_the_screen(phone)
    await _shot(phone, "sites")

    # A duplicate name comes back as an error beside the field, still in place.
    await phone.fill("#sites input[name=name]", "Nyalenda Tower")
    await phone.click("#sites button:has-text('Add')")
    await phone.locator("#site-name-error").wait_for()
    assert await phone.evaluate("window.__kiunga_marker") == marker

    phone.once("dialog", lambda dialog: dialog.accept())
    await row.locator("button:has-text('Remove')").click()
    await row.wait_for(state="detached")

    await phone.click("label.menu-button")  # on a phone the navigation folds into a menu
    await phone.click("nav form[action='/logout'] button")
    await phone.wait_for_url(lambda url: "/login" in url)
    await phone.goto(origin + "/sites")
    assert phone.url.startswith(origin + "/login")


async def test_platform_admin_creates_an_isp_in_the_browser(server, phone, settings, engine):
    from kiunga.platform.staff_admin import ensure_platform_admin

    ensure_platform_admin(engine, "root@platform.example", password="platform admin pass")
    origin = f"http://{settings.base_domain}:{server}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", "root@platform.example")
    await phone.fill("input[name=password]", "platform admin pass")
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/platform")

    form = phone.locator("form", has=phone.locator("input[name=slug]"))
    await form.locator("input[name=slug]").fill("Bad Slug")
    await form.locator("input[name=name]").fill("Mombasa Air")
    await form.locator("input[name=owner_email]").fill("owner@mombasa-air.example")
    await form.locator("button[type=submit]").click()
    assert "lowercase" in await phone.locator("#slug-error").inner_text()

    form = phone.locator("form", has=phone.locator("input[name=slug]"))
    await form.locator("input[name=slug]").fill("mombasa-air")
    await form.locator("button[type=submit]").click()
    await phone.locator("text=mombasa-air").first.wait_for()
    assert await fits_the_screen(phone)
    await _shot(phone, "platform")
