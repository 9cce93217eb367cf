"""The portal posts a redeemed code only to a login page of the ISP's own hotspots: a
private address, a router the ISP registered, or a hotspot name set on the portal page.
Anyone can post router parameters to /portal/login, so a state naming another host would
hand a victim's code to whoever made the link."""

from __future__ import annotations

import pytest
from kiunga.channels.portal.settings import PortalChange, update_portal_settings
from kiunga.channels.portal.state import RouterState, Signer
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.tenants.network.models import Router, RouterMode

from .conftest import router_fields
from .test_portal_http import arrive, hidden, redeem

STRANGERS = [
    "https://evil.example/login",
    "http://203.0.113.9/login",
    "http://169.254.169.254/login",
    "http://10.5.50.1.evil.example/login",
    "http://[2001:db8::1]/login",
    "http://wifi.kibera.evil.example/login",
]
OWN = [
    "http://10.5.50.1/login",
    "http://192.168.88.1/login",
    "http://172.20.0.1/login",
    "http://100.64.3.1/login",
    "https://[fd00::1]/login",
    "http://gw.kibera.example/login",  # a router's registered address
    "https://WiFi.Kibera./login",  # the hotspot's DNS name, set on the portal page
]


@pytest.fixture
async def registered(unit_of_work):
    async with unit_of_work() as session:
        session.add(Router(name="Kibera gateway", address="gw.kibera.example", mode=RouterMode.API))
        await update_portal_settings(
            session,
            PortalChange(
                title="",
                welcome="",
                primary_colour="#0b6e4f",
                accent_colour="#f2a541",
                support_phone=None,
                default_language="en",
                hotspot_hosts="wifi.kibera  hotspot.kibera.example",
            ),
        )


@pytest.mark.parametrize("login_url", STRANGERS)
async def test_a_stranger_login_page_gets_no_signed_state(
    client_for, isp, add_package, add_vouchers, registered, login_url
):
    code = (await add_vouchers(await add_package()))[0]
    client = client_for(isp.host)
    answer = await client.post(
        "/portal/login",
        data=router_fields(login_url, **{"link-login": f"{login_url}?dst=x"}),
    )
    assert answer.status_code == 200
    fields = hidden(answer.text)
    assert fields["rs"] == ""
    # Without a state the code is only checked, never posted anywhere.
    checked = await redeem(client, fields, code)
    assert checked.status_code == 200
    assert login_url not in checked.text


@pytest.mark.parametrize("login_url", OWN)
async def test_the_isps_own_hotspots_log_in(
    client_for, isp, add_package, add_vouchers, registered, login_url
):
    code = (await add_vouchers(await add_package()))[0]
    client = client_for(isp.host)
    _, fields = await arrive(client, login_url=login_url, **{"link-orig": "javascript:alert(1)"})
    assert fields["rs"]
    answer = await redeem(client, fields, code)
    assert answer.status_code == 200, answer.text
    assert f'action="{login_url}"' in answer.text
    # Where the user was going is kept only when it is a web address.
    assert hidden(answer.text)["dst"] == ""


async def test_a_state_signed_for_a_stranger_host_is_not_honoured(
    client_for, isp, add_package, add_vouchers, settings
):
    """A state signed before a host was allowed no more (or by an older version) is
    checked again on every page."""
    code = (await add_vouchers(await add_package()))[0]
    client = client_for(isp.host)
    _, fields = await arrive(client)
    signer = Signer(derive_key(settings.secret_key, "portal-state"))
    forged = RouterState(
        mac="AA:BB:CC:00:11:22", ip="10.5.50.23", login_url="https://evil.example/"
    )
    answer = await redeem(client, {**fields, "rs": signer.dump_state(isp.id, forged)}, code)
    assert "evil.example" not in answer.text


async def test_the_router_logout_link_must_be_the_hotspots_too(client_for, isp, registered):
    client = client_for(isp.host)
    _, fields = await arrive(
        client, **{"link-logout": "https://evil.example/logout", "link-orig": "http://a.example/"}
    )
    assert fields["rs"]
    page = await client.get(
        "/portal/status", params={"username": "NOSUCH", "link-logout": "https://evil.example/x"}
    )
    assert "evil.example" not in page.text


@pytest.mark.parametrize(
    ("names", "field"),
    [
        ("bad host!", "hotspot_hosts"),
        ("http://wifi.kibera/login", "hotspot_hosts"),
        (" ".join(f"h{n}.example" for n in range(100)), "hotspot_hosts"),
    ],
)
async def test_hotspot_names_are_checked(unit_of_work, names, field):
    from kiunga.tenants.vouchers.errors import VoucherError

    change = PortalChange(
        title="",
        welcome="",
        primary_colour="#0b6e4f",
        accent_colour="#f2a541",
        support_phone=None,
        default_language="en",
        hotspot_hosts=names,
    )
    with pytest.raises(VoucherError) as refused:
        async with unit_of_work() as session:
            await update_portal_settings(session, change)
    assert refused.value.field == field


async def test_the_owner_names_the_hotspots_on_the_portal_page(
    client_for, isp, login, csrf_token_in, add_package, add_vouchers
):
    code = (await add_vouchers(await add_package()))[0]
    console = client_for(isp.host)
    assert (await login(console, isp.owner_email, "correct horse battery")).status_code == 303
    page = await console.get("/settings/portal")
    form = {
        "_csrf_token": csrf_token_in(page.text),
        "primary_colour": "#0b6e4f",
        "accent_colour": "#f2a541",
        "default_language": "en",
    }
    refused = await console.post("/settings/portal", data={**form, "hotspot_hosts": "not a/host"})
    assert refused.status_code == 400 and "is not a host name" in refused.text
    saved = await console.post(
        "/settings/portal", data={**form, "hotspot_hosts": "Login.Kibera.Example, wifi.kibera"}
    )
    assert saved.status_code == 303, saved.text
    shown = await console.get("/settings/portal")
    assert 'value="login.kibera.example wifi.kibera"' in shown.text

    phone = client_for(isp.host, client_ip="127.0.0.7")
    _, fields = await arrive(phone, login_url="https://login.kibera.example/login")
    assert fields["rs"]
    answer = await redeem(phone, fields, code)
    assert 'action="https://login.kibera.example/login"' in answer.text
