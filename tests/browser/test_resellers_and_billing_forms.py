"""On a phone-sized screen: an owner adds a reseller, signs a subscriber up under it, follows
the subscriber's links to the statement, writes an invoice (a bad price is shown beside its
field first), issues it and credits part of it."""

from __future__ import annotations

import re

from fixtures.browser import fits_the_screen


async def test_owner_adds_a_reseller_and_bills_its_subscriber(server, phone, make_tenant):
    tenant = make_tenant(name="Naivasha Air")
    origin = f"http://{tenant.host}:{server}"
    await phone.goto(origin + "/login")
    await phone.fill("input[name=email]", tenant.owner_email)
    await phone.fill("input[name=password]", "correct horse battery")
    await phone.click("button[type=submit]")
    await phone.wait_for_url(origin + "/")

    await phone.goto(origin + "/resellers")
    await phone.click("a:has-text('Add a reseller')")
    await phone.fill("input[name=name]", "Lake Agents")
    await phone.fill("input[name=phone]", "0712 345 678")
    await phone.click("button:has-text('Add')")
    await phone.wait_for_url(origin + "/resellers")
    row = phone.locator("tr", has_text="Lake Agents")
    assert "+254712345678" in await row.inner_text()
    assert await fits_the_screen(phone)

    await phone.goto(origin + "/subscribers/new")
    await phone.fill("input[name=name]", "Wairimu Njoroge")
    await phone.select_option("select[name=reseller_id]", label="Lake Agents")
    await phone.click("button:has-text('Add')")
    await phone.wait_for_url(re.compile(r".*/subscribers/\d+$"))
    assert "Lake Agents" in await phone.locator("dl").inner_text()
    assert await phone.locator("a:has-text('Request M-Pesa payment')").count() == 1

    await phone.click("a:has-text('Statement')")
    await phone.wait_for_url(re.compile(r".*/subscribers/\d+/statement$"))
    await phone.click("a:has-text('New invoice')")
    await phone.wait_for_url(re.compile(r".*/invoices/new\?account=.*"))
    assert await fits_the_screen(phone)
    await phone.fill("input[name='lines[0].description']", "Home 10 Mbps, March")
    await phone.fill("input[name='lines[0].unit_price']", "2,500.555")
    await phone.click("button:has-text('Save invoice')")
    error = phone.locator("#invoice-lines-0-unit_price-error")
    await error.wait_for()
    assert "decimal places" in await error.inner_text()
    assert await phone.input_value("input[name='lines[0].description']") == "Home 10 Mbps, March"
    await phone.fill("input[name='lines[0].unit_price']", "2,500")
    await phone.uncheck("input[name=issue]")
    await phone.click("button:has-text('Save invoice')")
    await phone.wait_for_url(re.compile(r".*/invoices/\d+$"))
    assert "Draft invoice" in await phone.locator("h1").inner_text()
    await phone.click("button:has-text('Issue')")
    await phone.locator("h1", has_text="INV-000001").wait_for()
    assert await fits_the_screen(phone)

    await phone.click("a:has-text('Issue a credit note against this invoice')")
    await phone.wait_for_url(re.compile(r".*/statement\?invoice_id=\d+#credit-note$"))
    await phone.fill("#credit-note input[name=amount]", "500")
    await phone.fill("#credit-note input[name=reason]", "Two days without service")
    await phone.click("button:has-text('Record credit note')")
    await phone.locator(".notice", has_text="Credit note recorded.").wait_for()
    statement = await phone.locator("main").inner_text()
    assert "Credit note CN-000001: Two days without service" in statement
    assert "-KES 2,000.00" in statement
    assert await fits_the_screen(phone)
