"""The portal over HTTP (no browser): the router's post, redeeming with plain forms, every
refusal padded to the same time, the rate limit and its metrics, page sizes, Swahili, the
page for someone who is not on the hotspot, the status page and the logo."""

from __future__ import annotations

import asyncio
import html
import re
import time
from datetime import timedelta

from kiunga.channels.portal.chap import chap_response
from kiunga.channels.portal.pages import LOOK_CACHE_SECONDS
from kiunga.channels.portal.settings import PortalChange, set_logo, update_portal_settings
from kiunga.channels.portal.web import REFUSAL_FLOOR_SECONDS
from kiunga.platform.db.base import utcnow
from kiunga.tenants.vouchers.batches import revoke_batch
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from .conftest import CHAP_CHALLENGE, CHAP_ID, router_fields

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
MAX_PAGE_BYTES = 50 * 1024


def hidden(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


async def arrive(client, **change):
    """The router's login.html posting to the portal; the landing page's hidden fields."""
    answer = await client.post("/portal/login", data=router_fields(**change))
    assert answer.status_code == 200, answer.text
    return answer, hidden(answer.text)


async def redeem(client, fields: dict[str, str], code: str):
    form = {key: fields[key] for key in ("rs", "lang", "_pt")}
    return await client.post("/portal/redeem", data={**form, "code": code})


def counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_router_post_then_redeem_logs_in_with_chap(
    client_for, isp, add_package, add_vouchers
):
    package_id = await add_package(name="Saa Moja")
    code = (await add_vouchers(package_id))[0]
    client = client_for(isp.host)

    landing, fields = await arrive(client)
    assert "Saa Moja" in landing.text and "KES 20" in landing.text
    assert len(landing.content) < MAX_PAGE_BYTES
    assert fields["rs"] and fields["_pt"]

    before = counter("kiunga_portal_redeem_total", outcome="ok")
    answer = await redeem(client, fields, code.lower())
    assert answer.status_code == 200, answer.text
    sent = hidden(answer.text)
    assert 'action="http://10.5.50.1/login"' in answer.text
    assert sent["username"] == code
    assert sent["password"] == chap_response(CHAP_ID, code, CHAP_CHALLENGE)
    assert sent["dst"] == "http://example.com/" and sent["popup"] == "false"
    # Submitted at once by /static/page.js (no inline script), a visible button without JS.
    assert 'data-auto-submit="0"' in answer.text and "/static/page.js" in answer.text
    assert 'id="continue"' in answer.text
    assert counter("kiunga_portal_redeem_total", outcome="ok") == before + 1

    # Without CHAP the router expects the password in clear.
    client = client_for(isp.host, client_ip="127.0.0.2")
    _, fields = await arrive(client, **{"chap-id": "", "chap-challenge": ""})
    sent = hidden((await redeem(client, fields, code)).text)
    assert sent["username"] == code and sent["password"] == code


async def test_every_refusal_is_clear_and_takes_the_same_time(
    client_for, isp, make_tenant, add_package, add_vouchers, unit_of_work
):
    package_id = await add_package()
    revoked = (await add_vouchers(package_id))[0]
    expired = (await add_vouchers(package_id, unused_expires_at=utcnow() + timedelta(days=1)))[0]
    used_up = (await add_vouchers(package_id))[0]
    bound = (await add_vouchers(package_id, mac_binding=True))[0]
    elsewhere = make_tenant("other")
    other_package = await add_package(schema=elsewhere.schema)
    foreign = (await add_vouchers(other_package, schema=elsewhere.schema))[0]
    async with unit_of_work() as session:
        batches = {
            code: (await session.scalar(select(Voucher).where(Voucher.code == code))).batch_id
            for code in (revoked, expired, used_up)
        }
        await revoke_batch(session, batches[revoked], actor_label="test")
        await session.execute(
            update(VoucherBatch)
            .where(VoucherBatch.id == batches[expired])
            .values(unused_expires_at=utcnow() - timedelta(minutes=1))
        )
        await session.execute(
            update(Voucher)
            .where(Voucher.code == used_up)
            .values(
                status=VoucherStatus.USED_UP,
                activated_at=utcnow() - timedelta(hours=2),
                expires_at=utcnow() - timedelta(hours=1),
            )
        )
    first = client_for(isp.host)
    _, fields = await arrive(first, mac="AA:BB:CC:00:00:01")
    assert hidden((await redeem(first, fields, bound)).text)["username"] == bound

    cases = [
        ("NOSUCHCODE", "That code is not valid here"),
        (foreign, "That code is not valid here"),
        (revoked, "cancelled by the seller"),
        (expired, "That voucher has expired"),
        (used_up, "That voucher has been used up"),
        (bound, "in use on another device"),
    ]
    for number, (code, message) in enumerate(cases):
        client = client_for(isp.host)
        _, fields = await arrive(
            client, mac=f"AA:BB:CC:00:01:{number:02d}", ip=f"10.5.50.{100 + number}"
        )
        started = time.perf_counter()
        answer = await redeem(client, fields, code)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 400, (code, answer.text)
        assert message in answer.text, code
        # The floor every refusal is padded to; that they cost the same work is counted in
        # tests/vouchers/test_redeem.py (statements per refusal), not timed here.
        assert elapsed >= REFUSAL_FLOOR_SECONDS, (code, elapsed)
        assert f'value="{code}"' in answer.text  # kept, for correcting a typo


async def test_the_sixth_failure_in_a_minute_is_told_to_wait(client_for, isp, add_package):
    await add_package()
    client = client_for(isp.host)
    _, fields = await arrive(client, mac="AA:BB:CC:00:02:01", ip="10.5.50.201")
    limited_before = counter("kiunga_portal_rate_limited_total", key="mac")
    refused_before = counter("kiunga_portal_redeem_total", outcome="unknown")
    for attempt in range(5):
        answer = await redeem(client, fields, f"WRONG{attempt}")
        assert answer.status_code == 400
    answer = await redeem(client, fields, "WRONG5")
    assert answer.status_code == 429
    seconds = int(re.search(r"Wait (\d+) seconds", answer.text).group(1))
    assert 1 <= seconds <= 60
    assert counter("kiunga_portal_redeem_total", outcome="unknown") == refused_before + 5
    assert counter("kiunga_portal_rate_limited_total", key="mac") == limited_before + 1

    # The same device from another hotspot address is still the same MAC.
    _, fields = await arrive(client, mac="AA:BB:CC:00:02:01", ip="10.5.50.202")
    assert (await redeem(client, fields, "WRONG6")).status_code == 429
    # Another device is not held back, and the counts are this ISP's alone.
    _, fields = await arrive(client, mac="AA:BB:CC:00:02:02", ip="10.5.50.203")
    assert (await redeem(client, fields, "WRONG7")).status_code == 400


async def test_opened_without_the_router_explains_and_still_checks_a_code(
    client_for, isp, add_package, add_vouchers
):
    package_id = await add_package(name="Siku Moja")
    code = (await add_vouchers(package_id))[0]
    client = client_for(isp.host)
    page = await client.get(f"/portal/?code={code}")
    assert page.status_code == 200
    assert "Connect to the Wi-Fi first" in page.text
    assert f'value="{code}"' in page.text  # a QR code on a printed sheet fills it in
    assert "Siku Moja" in page.text and "/portal/buy" not in page.text
    fields = hidden(page.text)
    assert fields["rs"] == ""

    # A router post without its links is the same friendly page, not an error.
    answer = await client.post("/portal/login", data={"mac": "AA:BB:CC:00:11:22"})
    assert answer.status_code == 200 and "Connect to the Wi-Fi first" in answer.text

    checked = await redeem(client, fields, code)
    assert checked.status_code == 200
    assert f"Voucher {code}" in checked.text and "ready to use" in checked.text
    assert "Not used yet" in checked.text
    assert (await redeem(client, fields, "NOPE1234")).status_code == 400


async def test_swahili_by_toggle_and_by_default(client_for, isp, add_package, unit_of_work):
    await add_package(name="Saa Mbili", validity_count=2)
    client = client_for(isp.host)
    landing, fields = await arrive(client)
    assert "Have a voucher?" in landing.text and "for 2 hours" in landing.text
    toggle = re.search(r'href="([^"]+)" hreflang="sw"', landing.text).group(1)
    swahili = await client.get(html.unescape(toggle))
    assert "Una vocha?" in swahili.text and "kwa saa 2" in swahili.text
    assert 'lang="sw"' in swahili.text
    sw_fields = hidden(swahili.text)
    assert sw_fields["rs"] == fields["rs"] and sw_fields["lang"] == "sw"
    refused = await redeem(client, sw_fields, "HAKUNA123")
    assert "Namba hiyo si sahihi hapa" in refused.text

    async with unit_of_work() as session:
        await update_portal_settings(
            session,
            PortalChange(
                title="Mtaa Wi-Fi",
                welcome="Karibu!",
                primary_colour="#123456",
                accent_colour="#abcdef",
                support_phone="+254712345678",
                default_language="sw",
            ),
        )
    await asyncio.sleep(LOOK_CACHE_SECONDS)
    page = (await arrive(client_for(isp.host, client_ip="127.0.0.3")))[0].text
    assert "Mtaa Wi-Fi" in page and "Karibu!" in page and "#123456" in page
    assert "Msaada: piga +254712345678" in page


async def test_pages_are_light_and_logo_is_served(
    client_for, isp, add_package, add_vouchers, unit_of_work
):
    for number in range(8):
        await add_package(name=f"Kifurushi {number}", price=1_000 * (number + 1))
    code = (await add_vouchers(await add_package()))[0]
    logo = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000
    async with unit_of_work() as session:
        await set_logo(session, logo, "image/png")
    client = client_for(isp.host)
    landing, fields = await arrive(client)
    pages = [landing, await redeem(client, fields, code), await client.get("/portal/")]
    package_id = re.search(r'name="package" value="(\d+)"', landing.text).group(1)
    pages.append(await client.get(f"/portal/buy?package={package_id}&rs={fields['rs']}"))
    pages.append(
        await client.get(f"/portal/status?username={code}&link-logout=http://10.5.50.1/logout")
    )
    for answer in pages:
        assert answer.status_code == 200, answer.text
        assert len(answer.content) < MAX_PAGE_BYTES, answer.url
        assert '<meta name="viewport"' in answer.text
    served = await client.get("/portal/logo")
    assert served.content == logo and served.headers["content-type"] == "image/png"
    assert "sandbox" in served.headers["content-security-policy"]


async def test_status_page_shows_time_and_data_left_and_logs_out(
    client_for, isp, add_package, add_vouchers
):
    package_id = await add_package(data_cap_bytes=2 * 10**9)
    code = (await add_vouchers(package_id))[0]
    client = client_for(isp.host)
    _, fields = await arrive(client)
    await redeem(client, fields, code)
    status = await client.get(
        "/portal/status", params={"username": code, "link-logout": "http://10.5.50.1/logout"}
    )
    assert "You are online" in status.text
    assert "Time left: 59 min" in status.text or "Time left: 1 h 0 min" in status.text
    assert "Data left: 2 GB" in status.text
    assert 'action="http://10.5.50.1/logout"' in status.text
    # A link that is not the router's (a script URL) is never offered.
    status = await client.get(
        "/portal/status", params={"username": code, "link-logout": "javascript:alert(1)"}
    )
    assert "javascript:" not in status.text


async def test_portal_forms_need_their_token_and_the_router_state_its_signature(
    client_for, isp, add_package, add_vouchers
):
    code = (await add_vouchers(await add_package()))[0]
    client = client_for(isp.host)
    _, fields = await arrive(client)
    forged = {**fields, "_pt": "1." + "A" * 24}
    assert "This page was open too long" in (await redeem(client, forged, code)).text
    stranger = client_for(isp.host, client_ip="127.0.0.9")  # no portal cookie
    assert (await redeem(stranger, fields, code)).status_code == 400
    # A state altered (or signed for another ISP) counts as none: no login is offered.
    body, signature = fields["rs"].rsplit(".", 1)
    altered = {**fields, "rs": body[:-2] + "xx." + signature}
    answer = await redeem(client, altered, code)
    assert "http://10.5.50.1/login" not in answer.text


async def test_buying_refusals_are_worded_for_the_user(client_for, isp, add_package):
    on_sale = await add_package(name="Saa Moja")
    hidden_package = await add_package(name="Staff Only", on_sale=False)
    client = client_for(isp.host)
    _, fields = await arrive(client)
    form = {key: fields[key] for key in ("rs", "lang", "_pt")}

    page = await client.get("/portal/buy", params={"package": on_sale, "rs": fields["rs"]})
    assert page.status_code == 200 and "Pay KES 20 with M-Pesa" in page.text
    bad_phone = await client.post(
        "/portal/buy", data={**form, "package": on_sale, "phone": "12345"}
    )
    assert bad_phone.status_code == 400 and "Enter a Safaricom number" in bad_phone.text
    assert 'value="12345"' in bad_phone.text
    # This ISP has not set M-Pesa up: said plainly, nothing breaks.
    no_mpesa = await client.post(
        "/portal/buy", data={**form, "package": on_sale, "phone": "0712345678"}
    )
    assert no_mpesa.status_code == 400 and "M-Pesa is not answering" in no_mpesa.text
    not_for_sale = await client.post(
        "/portal/buy", data={**form, "package": hidden_package, "phone": "0712345678"}
    )
    assert "That package is not on sale any more" in not_for_sale.text
    # Without the router there is no device to log in: back to the landing page.
    assert "Connect to the Wi-Fi first" in (await client.get(f"/portal/buy?package={on_sale}")).text
    assert (await client.get("/portal/purchase/nope")).status_code == 404
    assert "We could not find that payment" in (await client.get("/portal/wait/nope")).text


async def test_guessing_through_the_status_page_is_limited(client_for, isp):
    client = client_for(isp.host)
    params = {"mac": "AA:BB:CC:00:05:01", "ip": "10.5.50.77", "link-logout": ""}
    for attempt in range(5):
        started = time.perf_counter()
        answer = await client.get("/portal/status", params={**params, "username": f"G{attempt}"})
        assert answer.status_code == 200
        assert time.perf_counter() - started >= REFUSAL_FLOOR_SECONDS
    answer = await client.get("/portal/status", params={**params, "username": "G5"})
    assert answer.status_code == 429 and "Too many wrong codes" in answer.text
