"""The console's Portal page: the look, the logo, the packages on sale (the portal shows a
change at once), the router's files to download, and who may change it."""

from __future__ import annotations

from kiunga.platform.models import StaffRole
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.vouchers.models import PortalSettings
from sqlalchemy import select

PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 500


async def test_owner_brands_the_portal_and_picks_packages(
    client_for, isp, login, csrf_token_in, add_package, unit_of_work
):
    hour = await add_package(name="Saa Moja", on_sale=False)
    day = await add_package(name="Siku Moja", on_sale=True)
    client = client_for(isp.host)
    assert (await login(client, isp.owner_email, PASSWORD)).status_code in (302, 303)
    page = await client.get("/settings/portal")
    assert page.status_code == 200
    assert "Saa Moja" in page.text and 'href="/settings/portal"' in page.text  # in the nav
    portal = client_for(isp.host, client_ip="127.0.0.5")
    assert "Siku Moja" in (await portal.get("/portal/")).text  # caches the look

    form = {
        "_csrf_token": csrf_token_in(page.text),
        "title": "Mtaa Fibre Hotspot",
        "welcome": "Karibu mtaani",
        "primary_colour": "#112233",
        "accent_colour": "#FFAA00",
        "support_phone": "+254700111222",
        "default_language": "sw",
        "on_sale": [str(hour)],
    }
    saved = await client.post(
        "/settings/portal", data=form, files={"logo": ("logo.png", PNG, "image/png")}
    )
    assert saved.status_code == 303, saved.text
    async with unit_of_work() as session:
        row = await session.get(PortalSettings, 1)
        assert row.title == "Mtaa Fibre Hotspot" and row.accent_colour == "#ffaa00"
        assert row.logo == PNG and row.logo_type == "image/png"
        on_sale = set(await session.scalars(select(Package.name).where(Package.sold_on_portal)))
        assert on_sale == {"Saa Moja"}

    shown = (await portal.get("/portal/")).text  # at once: saving cleared the cache
    assert "Mtaa Fibre Hotspot" in shown and "Karibu mtaani" in shown
    assert "Saa Moja" in shown and "Siku Moja" not in shown
    assert "Connect to the Wi-Fi first" not in shown and "Kwanza unganisha na Wi-Fi" in shown
    assert '<img src="/portal/logo' in shown
    assert (await portal.get("/portal/logo")).content == PNG

    bad = await client.post(
        "/settings/portal",
        data={**form, "primary_colour": "green"},
        files={"logo": ("logo.png", b"GIF89a", "image/gif")},
    )
    assert bad.status_code == 400 and "Nothing was saved" in bad.text
    del day


async def test_router_files_for_this_isp(client_for, isp, login):
    client = client_for(isp.host)
    await login(client, isp.owner_email, PASSWORD)
    login_html = await client.get("/settings/portal/files/login.html")
    assert login_html.status_code == 200
    assert 'filename="login.html"' in login_html.headers["content-disposition"]
    assert f'action="http://{isp.host}/portal/login"' in login_html.text
    assert 'value="$(chap-challenge)"' in login_html.text
    status = await client.get("/settings/portal/files/status.html")
    assert f'action="http://{isp.host}/portal/status"' in status.text
    garden = await client.get("/settings/portal/files/walled-garden.rsc")
    assert f"/ip hotspot walled-garden add dst-host={isp.host}" in garden.text
    assert f"/ip hotspot walled-garden ip add action=accept dst-host={isp.host}" in garden.text
    assert (await client.get("/settings/portal/files/other.txt")).status_code == 404


async def test_only_owners_and_admins_and_never_anonymous(client_for, isp, login, make_staff):
    anonymous = client_for(isp.host)
    answer = await anonymous.get("/settings/portal", headers={"accept": "text/html"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    files = await anonymous.get("/settings/portal/files/login.html")
    assert files.status_code in (303, 401)
    support = client_for(isp.host, client_ip="127.0.0.6")
    await login(support, make_staff(isp.id, role=StaffRole.SUPPORT))
    assert (await support.get("/settings/portal")).status_code == 403
    # The portal itself needs nobody signed in, and the console's login never catches it.
    assert (await anonymous.get("/portal/", headers={"accept": "text/html"})).status_code == 200


async def test_a_router_fetches_its_files_from_the_portal_without_signing_in(client_for, isp):
    router = client_for(isp.host)
    login_html = await router.get("/portal/router/login.html")
    assert login_html.status_code == 200
    assert f'action="http://{isp.host}/portal/login"' in login_html.text
    assert 'value="$(link-login-only)"' in login_html.text
    status_html = await router.get("/portal/router/status.html")
    assert f'action="http://{isp.host}/portal/status"' in status_html.text
    garden = await router.get("/portal/router/walled-garden.rsc")
    assert f"/ip hotspot walled-garden add dst-host={isp.host}" in garden.text
    assert (await router.get("/portal/router/../../etc/passwd")).status_code == 404
    assert (await router.get("/portal/router/config.rsc")).status_code == 404
