"""The Phone page over HTTP: only in development; a USSD session, an SMS and a WhatsApp
message through the emulators, received in the providers' own encodings at the ISP's
callback addresses; the inbox; bad input and a silent Kiunga answered on the page."""

from __future__ import annotations

import re
import socket
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from kiunga.integrations.africastalking.client import AfricasTalkingSms
from kiunga.integrations.africastalking.emulator import DEMO_API_KEY, DEMO_USERNAME
from kiunga.integrations.africastalking.forms import parse_inbound_sms, parse_ussd_hop
from kiunga.integrations.africastalking.interfaces import AtCredentials
from kiunga.integrations.twilio.emulator import DEMO_AUTH_TOKEN, DEMO_WHATSAPP_FROM
from kiunga.integrations.twilio.forms import parse_inbound_whatsapp
from kiunga.integrations.twilio.signature import signature_valid
from kiunga.tenants.mpesa.demo import DEMO_PHONE

from fixtures.web import csrf_token_of

PHONE = "+254711000301"


async def post_form(client, path: str, **fields: str):
    page = await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}")
    return await client.post(path, data={**fields, "_csrf_token": csrf_token_of(page.text)})


def redirected(answer) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


async def test_outside_development_there_is_no_phone_page(client_for, login, make_tenant):
    tenant = make_tenant()
    client = client_for(tenant.host)
    await login(client, tenant.owner_email, "correct horse battery")
    assert (await client.get("/phone")).status_code == 404
    dashboard = await client.get("/")
    assert 'href="/phone"' not in dashboard.text


async def test_in_development_the_page_is_in_the_navigation(owner_of, make_tenant):
    tenant = make_tenant()
    client = await owner_of(tenant)
    answer = await client.get("/phone")
    assert answer.status_code == 200
    assert 'href="/phone"' in answer.text
    # Nothing seeded: the page says so, and offers the demo subscriber's phone.
    assert "no channel settings" in answer.text
    assert f'value="{DEMO_PHONE}"' in answer.text


async def test_staff_must_sign_in(development_app, make_tenant):
    import httpx

    tenant = make_tenant()
    transport = httpx.ASGITransport(app=development_app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{tenant.host}") as client:
        answer = await client.get("/phone")
    assert answer.status_code in (302, 303) and "/login" in answer.headers["location"]


async def test_a_ussd_session_through_the_emulator(owner_of, seeded_isp, callback_recorder):
    tenant, seeded = seeded_isp
    client = await owner_of(tenant)
    page = await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}")
    assert f'value="{seeded.ussd_code}"' in page.text

    dialled = redirected(await post_form(client, "/phone/ussd/dial", phone=PHONE, code="*483*57#"))
    session = dialled["session"]
    first = await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}&session={session}")
    assert "Karibu Demo ISP" in first.text and "1. Akaunti yangu" in first.text
    assert 'action="/phone/ussd/reply"' in first.text

    redirected(
        await post_form(client, "/phone/ussd/reply", phone=PHONE, session=session, input="2")
    )
    redirected(
        await post_form(client, "/phone/ussd/reply", phone=PHONE, session=session, input="1000")
    )
    last = await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}&session={session}")
    assert "Utapokea ombi la M-Pesa la KES 1,000" in last.text
    assert "The session has ended." in last.text
    assert 'action="/phone/ussd/reply"' not in last.text

    hops = [
        parse_ussd_hop(c.form) for c in callback_recorder.at(urlsplit(seeded.callbacks.ussd).path)
    ]
    assert [hop.text for hop in hops] == ["", "2", "2*1000"]
    assert {hop.phone for hop in hops} == {PHONE}
    assert {hop.service_code for hop in hops} == {"*483*57#"}
    assert len({hop.session_id for hop in hops}) == 1


async def test_an_sms_and_the_reply_in_the_inbox(
    owner_of, seeded_isp, callback_recorder, at_emulator
):
    tenant, seeded = seeded_isp
    client = await owner_of(tenant)
    answer = redirected(await post_form(client, "/phone/sms", phone=PHONE, text="LIPA 500 🙏"))
    assert answer["notice"] == "SMS sent"
    [callback] = callback_recorder.at(urlsplit(seeded.callbacks.sms).path)
    sms = parse_inbound_sms(callback.form)
    assert (sms.phone, sms.to, sms.text) == (PHONE, seeded.shortcode, "LIPA 500 🙏")

    # Kiunga's reply, sent through AT's SDK to the emulator, shows in the phone's inbox.
    sender = AfricasTalkingSms(max_workers=2)
    try:
        await sender.send(
            AtCredentials(DEMO_USERNAME, DEMO_API_KEY, base_url=at_emulator.url),
            to=PHONE,
            message="Risiti: KES 500 imepokelewa",
            sender_id="KIUNGA",
        )
    finally:
        sender.close()
    inbox = text_of((await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}")).text)
    assert "LIPA 500 🙏" in inbox and "from the phone" in inbox
    assert "Risiti: KES 500 imepokelewa" in inbox and "to the phone" in inbox


async def test_a_whatsapp_message_arrives_signed(owner_of, seeded_isp, callback_recorder):
    tenant, seeded = seeded_isp
    client = await owner_of(tenant)
    answer = redirected(await post_form(client, "/phone/whatsapp", phone=PHONE, text="Habari"))
    assert answer["notice"] == "WhatsApp message sent"
    [callback] = callback_recorder.at(urlsplit(seeded.callbacks.whatsapp).path)
    assert signature_valid(
        DEMO_AUTH_TOKEN,
        seeded.callbacks.whatsapp,
        callback.form,
        callback.headers["x-twilio-signature"],
    )
    message = parse_inbound_whatsapp(callback.form)
    assert (message.phone, message.to, message.body) == (PHONE, DEMO_WHATSAPP_FROM, "Habari")
    inbox = text_of((await client.get(f"/phone?phone={PHONE.replace('+', '%2B')}")).text)
    assert "WhatsApp" in inbox and "Habari" in inbox


async def test_kiunga_not_answering_is_said_on_the_page(
    settings, database_url, redis_url, login, seeded_isp
):
    """The emulators POST to a public address where nothing listens."""
    import dataclasses

    import httpx
    from kiunga.platform.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tenant, _ = seeded_isp
    changed = dataclasses.replace(settings, environment="development", public_url=nobody)
    app = create_app(changed, database_url, redis_url)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{tenant.host}"
        ) as client:
            await login(client, tenant.owner_email, "correct horse battery")
            dialled = redirected(
                await post_form(client, "/phone/ussd/dial", phone=PHONE, code="*483*57#")
            )
            assert "notice" not in dialled  # the screen says what went wrong
            page = await client.get(
                f"/phone?phone={PHONE.replace('+', '%2B')}&session={dialled['session']}"
            )
            assert page.status_code == 200
            assert "The session has ended." in page.text
            assert "ConnectError" in page.text
            sms = redirected(await post_form(client, "/phone/sms", phone=PHONE, text="BAL"))
            assert "did not answer" in sms["notice"]
    finally:
        await app.services.close()


@pytest.mark.parametrize(
    ("path", "fields", "notice"),
    [
        ("/phone/ussd/dial", {"phone": "not a phone", "code": "*483*57#"}, "Not a phone number"),
        ("/phone/ussd/dial", {"phone": PHONE, "code": "hello"}, "A USSD code looks like"),
        ("/phone/ussd/reply", {"phone": PHONE, "session": "../x", "input": "1"}, "not known"),
        (
            "/phone/ussd/reply",
            {"phone": PHONE, "session": "ATUid_x", "input": "1" * 200},
            "too long",
        ),
        ("/phone/sms", {"phone": PHONE, "text": ""}, "An SMS is 1 to"),
        ("/phone/whatsapp", {"phone": PHONE, "text": "x" * 1001}, "A WhatsApp message is 1 to"),
    ],
)
async def test_bad_input_is_answered_on_the_page(owner_of, seeded_isp, path, fields, notice):
    tenant, _ = seeded_isp
    client = await owner_of(tenant)
    answer = redirected(await post_form(client, path, **fields))
    assert notice in answer["notice"]


async def test_an_unknown_session_or_nul_is_no_error(owner_of, seeded_isp):
    tenant, _ = seeded_isp
    client = await owner_of(tenant)
    unknown = redirected(
        await post_form(client, "/phone/ussd/reply", phone=PHONE, session="ATUid_none", input="1")
    )
    assert "no such USSD session" in unknown["notice"]
    page = await client.get("/phone?phone=%00&session=%00&notice=%00")
    assert page.status_code in (200, 400)


async def test_a_form_without_the_csrf_token_is_refused(owner_of, seeded_isp):
    tenant, _ = seeded_isp
    client = await owner_of(tenant)
    answer = await client.post("/phone/sms", data={"phone": PHONE, "text": "BAL"})
    assert answer.status_code == 403
