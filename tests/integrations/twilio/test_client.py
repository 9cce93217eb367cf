"""The `twilio` SDK, through `TwilioWhatsApp`, against the Twilio emulator over real HTTP:
free text within the 24-hour window, templates outside it, refusals, Twilio down, and the
signed status callbacks and inbound webhooks the emulator POSTs (checked with twilio's own
RequestValidator)."""

from __future__ import annotations

import socket

import httpx
import pytest
from kiunga.integrations.twilio.client import TwilioWhatsApp
from kiunga.integrations.twilio.emulator import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_TEMPLATE_SID,
    DEMO_WHATSAPP_FROM,
)
from kiunga.integrations.twilio.forms import parse_inbound_whatsapp, parse_status_callback
from kiunga.integrations.twilio.interfaces import (
    TwilioCredentials,
    WhatsAppRefused,
    WhatsAppUnavailable,
)
from twilio.request_validator import RequestValidator

from fixtures.waiting import eventually


@pytest.fixture(scope="module")
def whatsapp():
    client = TwilioWhatsApp(max_workers=8)
    yield client
    client.close()


async def control(twilio_emulator, path: str, body: dict | None = None):
    async with httpx.AsyncClient(base_url=twilio_emulator.url, timeout=30) as http:
        answer = await (http.post(path, json=body) if body is not None else http.get(path))
    assert answer.status_code < 300, answer.text
    return answer.json()


async def outbox(twilio_emulator, phone: str) -> list[dict]:
    return await control(
        twilio_emulator, f"/emulator/whatsapp/outbox?phone={phone.replace('+', '%2B')}"
    )


async def writes(twilio_emulator, recorder, phone: str, sender: str, body: str = "Habari"):
    """The subscriber sends a WhatsApp message (which opens the 24-hour window)."""
    return await control(
        twilio_emulator,
        "/emulator/whatsapp/inbound",
        {
            "webhook_url": f"{recorder.url}/whatsapp",
            "from": phone,
            "to": sender,
            "body": body,
            "profile_name": "Wanjiku",
        },
    )


async def whatsapp_resource(twilio_emulator, credentials, sid: str) -> dict:
    """The message as Twilio's API shows it (GET …/Messages/{sid}.json)."""
    async with httpx.AsyncClient(base_url=twilio_emulator.url, timeout=30) as http:
        answer = await http.get(
            f"/2010-04-01/Accounts/{credentials.account_sid}/Messages/{sid}.json",
            auth=(credentials.account_sid, credentials.auth_token),
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def signed_by_twilio(callback, url: str, token: str) -> bool:
    return RequestValidator(token).validate(
        url, callback.form, callback.headers.get("x-twilio-signature", "")
    )


async def test_an_inbound_message_is_signed_over_the_webhook_url(
    twilio_account, twilio_emulator, callback_recorder
):
    credentials, sender = twilio_account()
    phone = "+254711000201"
    answer = await writes(twilio_emulator, callback_recorder, phone, sender, "Salio? 🙏")
    [callback] = callback_recorder.at("/whatsapp")
    url = f"{callback_recorder.url}/whatsapp"
    assert signed_by_twilio(callback, url, credentials.auth_token)
    assert not signed_by_twilio(callback, url, DEMO_AUTH_TOKEN)
    assert not signed_by_twilio(callback, f"{callback_recorder.url}/other", credentials.auth_token)
    message = parse_inbound_whatsapp(callback.form)
    assert message.phone == phone and message.to == sender
    assert message.body == "Salio? 🙏" and message.profile_name == "Wanjiku"
    assert message.wa_id == phone.removeprefix("+")
    assert message.message_sid == answer["form"]["MessageSid"]
    assert callback.form["AccountSid"] == credentials.account_sid


async def test_free_text_within_the_window_is_sent_and_its_statuses_follow_signed(
    whatsapp, twilio_account, twilio_emulator, callback_recorder
):
    credentials, sender = twilio_account()
    phone = "+254711000202"
    await writes(twilio_emulator, callback_recorder, phone, sender)
    status_url = f"{callback_recorder.url}/status?isp=7"
    sent = await whatsapp.send(
        credentials, from_=sender, to=phone, body="Karibu!", status_callback=status_url
    )
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.status == "queued"
    [stored] = await outbox(twilio_emulator, phone)
    assert stored["body"] == "Karibu!" and stored["from"] == sender

    callbacks = await eventually(
        lambda: len(callback_recorder.at("/status")) >= 3 and callback_recorder.at("/status")
    )
    statuses = [parse_status_callback(callback.form) for callback in callbacks]
    assert [s.status for s in statuses] == ["sent", "delivered", "read"]
    assert {s.message_sid for s in statuses} == {sent.sid}
    assert {s.phone for s in statuses} == {phone}
    for callback in callbacks:
        assert callback.query == "isp=7"
        assert signed_by_twilio(callback, status_url, credentials.auth_token)


async def test_an_approved_template_goes_outside_the_window(whatsapp, twilio_emulator):
    credentials = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, twilio_emulator.url)
    phone = "+254711000204"
    sent = await whatsapp.send(
        credentials,
        from_=DEMO_WHATSAPP_FROM,
        to=phone,
        content_sid=DEMO_TEMPLATE_SID,
        content_variables={"1": "Malipo yamepokelewa: KES 1,500"},
    )
    [stored] = await outbox(twilio_emulator, phone)
    assert stored["sid"] == sent.sid
    assert stored["body"] == "Malipo yamepokelewa: KES 1,500"
    assert stored["content_sid"] == DEMO_TEMPLATE_SID


async def test_a_template_not_approved_is_refused(whatsapp, twilio_emulator):
    credentials = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, twilio_emulator.url)
    with pytest.raises(WhatsAppRefused) as refused:
        await whatsapp.send(
            credentials,
            from_=DEMO_WHATSAPP_FROM,
            to="+254711000205",
            content_sid="HX" + "0" * 32,
        )
    assert refused.value.code == 21655


async def test_free_text_outside_the_window_is_taken_then_fails_with_63016_as_at_twilio(
    whatsapp, twilio_account, twilio_emulator, callback_recorder
):
    """Twilio takes the message (201, queued) and WhatsApp refuses it afterwards: the one
    status callback says failed, 63016. Nothing is refused at send time."""
    credentials, sender = twilio_account(status_callback_url=f"{callback_recorder.url}/status")
    phone = "+254711000203"
    never_wrote = await whatsapp.send(credentials, from_=sender, to=phone, body="Reminder 1")
    await control(twilio_emulator, "/emulator/whatsapp/window", {"phone": phone, "hours_ago": 24.1})
    too_long_ago = await whatsapp.send(credentials, from_=sender, to=phone, body="Reminder 2")
    assert never_wrote.status == too_long_ago.status == "queued"
    callbacks = await eventually(
        lambda: len(callback_recorder.at("/status")) >= 2 and callback_recorder.at("/status")
    )
    failed = {parse_status_callback(c.form).message_sid: c for c in callbacks}
    assert set(failed) == {never_wrote.sid, too_long_ago.sid}
    for callback in callbacks:
        status = parse_status_callback(callback.form)
        assert (status.status, status.error_code) == ("failed", "63016")
        assert signed_by_twilio(callback, f"{callback_recorder.url}/status", credentials.auth_token)
    # Its resource says so too.
    fetched = await whatsapp_resource(twilio_emulator, credentials, never_wrote.sid)
    assert (fetched["status"], fetched["error_code"]) == ("failed", 63016)
    assert "outside the allowed window" in fetched["error_message"]
    # Within the window, free text goes.
    await control(twilio_emulator, "/emulator/whatsapp/window", {"phone": phone, "hours_ago": 23.9})
    await whatsapp.send(credentials, from_=sender, to=phone, body="Reminder 3")
    callbacks = await eventually(
        lambda: len(callback_recorder.at("/status")) >= 5 and callback_recorder.at("/status")
    )
    assert [parse_status_callback(c.form).status for c in callbacks[2:]] == [
        "sent", "delivered", "read"
    ]  # fmt: skip
    assert len(await outbox(twilio_emulator, phone)) == 3


async def test_a_message_that_fails_on_the_way_is_reported_failed(
    whatsapp, twilio_account, twilio_emulator, callback_recorder
):
    credentials, sender = twilio_account(status_callback_url=f"{callback_recorder.url}/status")
    phone = "+254711000207"
    await writes(twilio_emulator, callback_recorder, phone, sender)
    await control(
        twilio_emulator, "/emulator/whatsapp/outcomes", {"phone": phone, "final": "undelivered"}
    )
    await whatsapp.send(credentials, from_=sender, to=phone, body="x")
    callbacks = await eventually(
        lambda: len(callback_recorder.at("/status")) >= 2 and callback_recorder.at("/status")
    )
    last = parse_status_callback(callbacks[-1].form)
    assert (last.status, last.error_code) == ("undelivered", "30008")


async def test_wrong_credentials_are_refused_with_20003(whatsapp, twilio_emulator):
    credentials = TwilioCredentials(DEMO_ACCOUNT_SID, "0" * 32, twilio_emulator.url)
    with pytest.raises(WhatsAppRefused) as refused:
        await whatsapp.send(credentials, from_=DEMO_WHATSAPP_FROM, to="+254711000208", body="x")
    assert refused.value.code == 20003


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"from_": "+15550000000", "to": "+254711000209", "body": "x"}, 63007),
        ({"from_": DEMO_WHATSAPP_FROM, "to": "0711000209", "body": "x"}, 21211),
        ({"from_": DEMO_WHATSAPP_FROM, "to": "+254711000209", "body": "x" * 1601}, 21617),
    ],
)
async def test_what_twilio_refuses(whatsapp, twilio_emulator, fields, code):
    credentials = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, twilio_emulator.url)
    await control(
        twilio_emulator, "/emulator/whatsapp/window", {"phone": "+254711000209", "hours_ago": 0}
    )
    with pytest.raises(WhatsAppRefused) as refused:
        await whatsapp.send(credentials, **fields)
    assert refused.value.code == code


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_twilio_down_then_back(whatsapp, twilio_account, twilio_emulator, status):
    credentials, sender = twilio_account()
    phone = "+254711000210"
    await control(twilio_emulator, "/emulator/whatsapp/window", {"phone": phone, "hours_ago": 0})
    await control(twilio_emulator, "/emulator/faults", {"status": status, "count": 2})
    for _ in range(2):
        with pytest.raises(WhatsAppUnavailable):
            await whatsapp.send(credentials, from_=sender, to=phone, body=f"x{status}")
    assert not [m for m in await outbox(twilio_emulator, phone) if m["body"] == f"x{status}"]
    assert (await whatsapp.send(credentials, from_=sender, to=phone, body=f"x{status}")).sid


async def test_twilio_unreachable_is_unavailable(whatsapp):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    credentials = TwilioCredentials("AC" + "1" * 32, "t", f"http://127.0.0.1:{port}")
    with pytest.raises(WhatsAppUnavailable, match="unreachable"):
        await whatsapp.send(credentials, from_="+15550000000", to="+254711000211", body="x")


async def test_body_and_template_are_exclusive(whatsapp, twilio_emulator):
    credentials = TwilioCredentials(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, twilio_emulator.url)
    with pytest.raises(ValueError):
        await whatsapp.send(credentials, from_=DEMO_WHATSAPP_FROM, to="+254711000212")
    with pytest.raises(ValueError):
        await whatsapp.send(
            credentials,
            from_=DEMO_WHATSAPP_FROM,
            to="+254711000212",
            body="x",
            content_sid=DEMO_TEMPLATE_SID,
        )


async def test_a_twiml_reply_to_an_inbound_message_is_sent_back(
    twilio_account, twilio_emulator, callback_recorder
):
    credentials, sender = twilio_account()
    phone = "+254711000213"
    callback_recorder.answer(
        "/whatsapp",
        "<?xml version='1.0'?><Response><Message>Karibu tena</Message></Response>",
        content_type="text/xml",
    )
    answer = await writes(twilio_emulator, callback_recorder, phone, sender)
    [reply] = answer["twiml_replies"]
    assert reply["body"] == "Karibu tena" and reply["to"] == phone
    assert [m["body"] for m in await outbox(twilio_emulator, phone)] == ["Karibu tena"]


async def test_a_repeated_webhook_is_the_same_form(twilio_emulator, callback_recorder):
    await control(
        twilio_emulator,
        "/emulator/whatsapp/inbound",
        {
            "webhook_url": f"{callback_recorder.url}/whatsapp",
            "from": "+254711000214",
            "to": DEMO_WHATSAPP_FROM,
            "body": "x",
            "repeat": 1,
        },
    )
    first, second = callback_recorder.at("/whatsapp")
    assert first.form == second.form
    assert first.headers["x-twilio-signature"] == second.headers["x-twilio-signature"]
