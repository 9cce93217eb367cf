"""The portal in Swahili over HTTP: the language chosen once holds on every page and through
every round trip by the router (its refusal posted back to login.html, its status.html,
the log-out that ends on login.html again), through a purchase's waiting and failed pages;
the ISP's own Swahili welcome text and package names, the English text when there is none."""

from __future__ import annotations

import asyncio
import html
import re
import time

import httpx
import pytest
from kiunga.channels.portal.pages import LOOK_CACHE_SECONDS
from kiunga.channels.portal.settings import PortalChange, update_portal_settings
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.vouchers.models import PortalSettings
from sqlalchemy import update

from .test_portal_http import arrive, hidden, redeem

PASSWORD = "correct horse battery"
PURCHASE_DEADLINE_SECONDS = 60


async def choose_swahili(client, landing: str) -> dict[str, str]:
    toggle = re.search(r'href="([^"]+)" hreflang="sw"', landing).group(1)
    swahili = await client.get(html.unescape(toggle))
    assert 'lang="sw"' in swahili.text
    return hidden(swahili.text)


async def test_swahili_holds_through_the_routers_round_trips(
    client_for, isp, add_package, add_vouchers
):
    code = (await add_vouchers(await add_package(name="Saa Moja")))[0]
    client = client_for(isp.host)
    landing, _ = await arrive(client)
    fields = await choose_swahili(client, landing.text)

    logging_in = await redeem(client, fields, code)
    assert "Tunakuunganisha" in logging_in.text
    # The router refused the login and shows its login.html again, which posts the router's
    # parameters (and its error) to the portal without any language.
    refused, _ = await arrive(client, error="invalid username or password", username=code)
    assert 'lang="sw"' in refused.text
    assert "Hotspot imesema: invalid username or password" in refused.text
    assert "Una vocha?" in refused.text

    # Logged in, the router's status.html sends the phone to the status page.
    status = await client.get(
        "/portal/status", params={"username": code, "link-logout": "http://10.5.50.1/logout"}
    )
    assert 'lang="sw"' in status.text
    assert "Uko mtandaoni" in status.text and "Muda uliobaki" in status.text
    assert ">Toka</button>" in status.text
    # Logged out, the router shows login.html again.
    after_logout, _ = await arrive(client)
    assert 'lang="sw"' in after_logout.text and "Una vocha?" in after_logout.text

    # Choosing English again holds just the same.
    toggle = re.search(r'href="([^"]+)" hreflang="en"', after_logout.text).group(1)
    await client.get(html.unescape(toggle))
    assert "Have a voucher?" in (await arrive(client))[0].text
    # Another phone is not affected by this one's choice.
    other = client_for(isp.host, client_ip="127.0.0.4")
    assert "Have a voucher?" in (await arrive(other))[0].text


@pytest.fixture
async def served(server, isp):
    """A client of `kiunga serve` itself, which M-Pesa's callbacks reach."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server}", headers={"host": f"{isp.host}:{server}"}
    ) as client:
        yield client


async def test_swahili_holds_through_a_purchase(served, isp, add_package, with_mpesa, unit_of_work):
    await with_mpesa()
    package_id = await add_package(name="Day pass", price=5_000)
    async with unit_of_work() as session:
        await session.execute(
            update(Package).where(Package.id == package_id).values(name_sw="Siku Nzima")
        )
    client = served
    landing, _ = await arrive(client)
    fields = await choose_swahili(client, landing.text)
    form = {key: fields[key] for key in ("rs", "lang", "_pt")}
    bought = await client.post(
        "/portal/buy", data={**form, "package": package_id, "phone": "0712341032"}
    )  # the emulator: the customer cancels
    assert bought.status_code == 303, bought.text
    token = re.search(r"/portal/wait/([^?]+)", bought.headers["location"]).group(1)

    # The waiting page as the phone reloads it, without the language in its address.
    waiting = await client.get(f"/portal/wait/{token}", params={"rs": fields["rs"]})
    assert "Angalia simu yako" in waiting.text and "Siku Nzima" in waiting.text
    deadline = time.monotonic() + PURCHASE_DEADLINE_SECONDS
    while (await client.get(f"/portal/purchase/{token}")).json()["status"] == "pending":
        assert time.monotonic() < deadline, "the payment never failed"
        await asyncio.sleep(0.3)
    failed = await client.get(f"/portal/wait/{token}", params={"rs": fields["rs"]})
    assert 'lang="sw"' in failed.text
    assert "Malipo hayakufanikiwa: ulighairi malipo." in failed.text
    back = re.search(r'<a class="button" href="([^"]+)"', failed.text).group(1)
    assert "Jaribu tena" in failed.text and "lang=sw" in html.unescape(back)


async def test_the_isps_swahili_welcome_and_package_names(
    client_for, isp, add_package, add_vouchers, unit_of_work
):
    named = await add_package(name="One hour", price=1_000)
    await add_package(name="Weekend", price=9_000)
    code = (await add_vouchers(named))[0]
    async with unit_of_work() as session:
        await session.execute(update(Package).where(Package.id == named).values(name_sw="Saa Moja"))
        await update_portal_settings(
            session,
            PortalChange(
                title="Mtaa Wi-Fi",
                welcome="Welcome to the estate Wi-Fi",
                welcome_sw="Karibu kwenye Wi-Fi ya mtaa",
                primary_colour="#123456",
                accent_colour="#abcdef",
                support_phone=None,
                default_language="en",
            ),
        )
    client = client_for(isp.host)
    english, _ = await arrive(client)
    assert "Welcome to the estate Wi-Fi" in english.text and "Karibu kwenye" not in english.text
    assert "One hour" in english.text and "Saa Moja" not in english.text
    fields = await choose_swahili(client, english.text)
    swahili = (await arrive(client))[0].text
    assert "Karibu kwenye Wi-Fi ya mtaa" in swahili and "Welcome to the estate" not in swahili
    assert "Saa Moja" in swahili and "One hour" not in swahili
    assert "Weekend" in swahili  # no Swahili name: the English one
    buy = await client.get("/portal/buy", params={"package": named, "rs": fields["rs"]})
    assert "Saa Moja" in buy.text and "One hour" not in buy.text
    await redeem(client, fields, code)
    status = await client.get("/portal/status", params={"username": code})
    assert "Saa Moja" in status.text and "One hour" not in status.text

    # Without a Swahili welcome the English one is shown, not the built-in text.
    async with unit_of_work() as session:
        await session.execute(update(PortalSettings).values(welcome_sw=""))
    await asyncio.sleep(LOOK_CACHE_SECONDS)
    assert "Welcome to the estate Wi-Fi" in (await arrive(client))[0].text


async def test_the_console_saves_the_swahili_welcome(
    client_for, isp, login, csrf_token_in, unit_of_work
):
    client = client_for(isp.host)
    assert (await login(client, isp.owner_email, PASSWORD)).status_code in (302, 303)
    page = await client.get("/settings/portal")
    assert 'name="welcome_sw"' in page.text
    form = {
        "_csrf_token": csrf_token_in(page.text),
        "title": "",
        "welcome": "Fast Wi-Fi",
        "welcome_sw": "Wi-Fi ya kasi",
        "primary_colour": "#112233",
        "accent_colour": "#ffaa00",
        "support_phone": "",
        "default_language": "sw",
    }
    saved = await client.post("/settings/portal", data=form)
    assert saved.status_code == 303, saved.text
    async with unit_of_work() as session:
        row = await session.get(PortalSettings, 1)
        assert (row.welcome, row.welcome_sw) == ("Fast Wi-Fi", "Wi-Fi ya kasi")
    assert "Wi-Fi ya kasi" in (await client.get("/settings/portal")).text
    portal = client_for(isp.host, client_ip="127.0.0.6")
    assert "Wi-Fi ya kasi" in (await arrive(portal))[0].text  # sw is the default now
    too_long = await client.post("/settings/portal", data={**form, "welcome_sw": "x" * 501})
    assert too_long.status_code == 400 and "Nothing was saved" in too_long.text
