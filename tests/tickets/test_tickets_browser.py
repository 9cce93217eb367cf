"""Tickets in a real browser on a phone-sized screen: open one, reply through htmx, resolve."""

from __future__ import annotations

from fixtures.browser import fits_the_screen


async def test_support_works_a_ticket_on_a_phone(server, phone, make_tenant):
    tenant = make_tenant(name="Rongai Net")
    origin = f"http://{tenant.host}:{server}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", "correct horse battery")
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")

    await phone.goto(origin + "/tickets")
    assert await fits_the_screen(phone)
    await phone.click("summary:has-text('Open a ticket')")
    await phone.fill("#tickets input[name=subject]", "Mast 3 power failure")
    await phone.select_option("#tickets select[name=category]", "connectivity")
    await phone.select_option("#tickets select[name=priority]", "urgent")
    await phone.fill("#tickets textarea[name=body]", "Generator did not start")
    await phone.click("#tickets button:has-text('Open')")
    await phone.wait_for_url(origin + "/tickets/*")
    assert "TKT-000001" in await phone.locator("h1").inner_text()
    assert await fits_the_screen(phone)

    marker = await phone.evaluate("window.__kiunga_marker = Math.random()")
    await phone.fill("#ticket textarea[name=body]", "Technician on the way with fuel")
    await phone.click("#ticket button:has-text('Send')")
    await phone.locator("#thread", has_text="Technician on the way with fuel").wait_for()
    await phone.select_option("#ticket select[name=status]", "resolved")
    await phone.click("#ticket button:has-text('Change status')")
    await phone.locator("#ticket .status", has_text="resolved").wait_for()
    # htmx swapped the ticket in place: still the same page.
    assert await phone.evaluate("window.__kiunga_marker") == marker
    assert await fits_the_screen(phone)
