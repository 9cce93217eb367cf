"""The console's Channels page: owners and admins set the channels up, with the secrets
shown only as set or not set and never echoed back; the callback URLs to paste into the
dashboards; every action confirmed first (a rotation needs its box ticked); a test
message queued; other roles kept out."""

from __future__ import annotations

import re

from kiunga.channels.messages.models import Message, MessageChannel
from kiunga.platform.models import StaffRole
from sqlalchemy import select

from .conftest import new_auth_token

PAGE = "/settings/channels"


async def _signed_in(isp, role, make_staff, login, client_for):
    client = client_for(isp.host)
    answer = await login(client, make_staff(isp.id, role=role))
    assert answer.status_code in (302, 303), answer.text
    return client


def _form_values(html: str) -> dict[str, str]:
    """The settings form's text inputs as the page fills them."""
    form = html.split('action="/settings/channels"', 1)[1].split("</form>", 1)[0]
    values = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and name.group(1) != "_csrf_token":
            values[name.group(1)] = value.group(1) if value else ""
    return values


async def test_owner_sets_up_the_channels_and_sees_the_callback_urls(
    make_channel_isp, make_staff, login, client_for, csrf_token_in, unit_of_work
):
    isp = await make_channel_isp()
    owner = await _signed_in(isp, StaffRole.OWNER, make_staff, login, client_for)
    page = await owner.get(PAGE)
    assert page.status_code == 200
    for path in ("ussd", "sms", "delivery", "whatsapp", "whatsapp/status"):
        assert f"http://127.0.0.1:8000/hooks/channels/{isp.token}/{path}</code>" in page.text
    assert "API key: set" in page.text and "Auth token: set" in page.text
    # Every action asks first.
    assert page.text.count("data-confirm=") == 3
    token = csrf_token_in(page.text)
    form = {**_form_values(page.text), "_csrf_token": token, "channel": "sms"}
    secret = new_auth_token()
    saved = await owner.post(
        PAGE,
        data={**form, "at_sender_id": "FibreNet", "twilio_auth_token": secret,
              "ussd_service_code": "", "template_receipt": "HX" + "c" * 32},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    page = await owner.get(saved.headers["location"])
    assert "Saved" in page.text and 'value="FibreNet"' in page.text
    assert 'value="HX' + "c" * 32 + '"' in page.text
    assert secret not in page.text
    # A refusal names the field, changes nothing and never echoes a secret typed in.
    bad = await owner.post(
        PAGE, data={**form, "twilio_auth_token": secret, "at_sender_id": "Way too long id"}
    )
    assert bad.status_code == 400 and "at_sender_id" in bad.text and secret not in bad.text
    assert 'value="Way too long id"' in bad.text  # what was typed, to correct it
    nul = await owner.post(PAGE, data={**form, "at_username": "a\x00b"})
    assert nul.status_code == 400 and "NUL" in nul.text
    rate = await owner.post(PAGE, data={**form, "send_rate_per_second": "9" * 50})
    assert rate.status_code == 400 and "send_rate_per_second" in rate.text
    # Empty secret fields keep the saved secrets.
    kept = await owner.post(PAGE, data={**form, "at_api_key": "", "twilio_auth_token": ""})
    assert kept.status_code == 303
    page = await owner.get(PAGE)
    assert "API key: set" in page.text and "Auth token: set" in page.text


async def test_rotation_needs_its_box_ticked_and_kills_the_old_urls(
    make_channel_isp, make_staff, login, client_for, csrf_token_in
):
    isp = await make_channel_isp()
    admin = await _signed_in(isp, StaffRole.ADMIN, make_staff, login, client_for)
    token = csrf_token_in((await admin.get(PAGE)).text)
    unconfirmed = await admin.post(f"{PAGE}/rotate-token", data={"_csrf_token": token})
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.text
    assert isp.token in unconfirmed.text  # nothing changed
    hooks = client_for("x")
    report = {"id": "ATXid_c", "status": "Success", "phoneNumber": "+254712345678"}
    assert (await hooks.post(isp.hook("delivery"), data=report)).status_code == 200
    rotated = await admin.post(f"{PAGE}/rotate-token", data={"_csrf_token": token, "confirm": "1"})
    assert rotated.status_code == 303
    page = await admin.get(rotated.headers["location"])
    assert "New callback addresses" in page.text and isp.token not in page.text
    assert (await hooks.post(isp.hook("delivery"), data=report)).status_code == 404
    new_token = re.search(r"/hooks/channels/([^/]+)/delivery", page.text).group(1)
    new_hook = f"/hooks/channels/{new_token}/delivery"
    assert (await hooks.post(new_hook, data=report)).status_code == 200


async def test_a_test_message_is_queued_from_the_page(
    make_channel_isp, make_staff, login, client_for, csrf_token_in, unit_of_work
):
    isp = await make_channel_isp()
    owner = await _signed_in(isp, StaffRole.OWNER, make_staff, login, client_for)
    token = csrf_token_in((await owner.get(PAGE)).text)
    bad = await owner.post(
        f"{PAGE}/test-message", data={"_csrf_token": token, "channel": "sms", "phone": "12"}
    )
    assert bad.status_code == 400 and "not a phone number" in bad.text
    sent = await owner.post(
        f"{PAGE}/test-message",
        data={"_csrf_token": token, "channel": "sms", "phone": "0712345678"},
    )
    assert sent.status_code == 303, sent.text
    page = await owner.get(sent.headers["location"])
    assert "Test message queued to +254712345678" in page.text
    async with unit_of_work(isp.schema) as session:
        [message] = (await session.scalars(select(Message))).all()
    assert (message.kind, message.channel, message.phone) == (
        "test",
        MessageChannel.SMS,
        "+254712345678",
    )


async def test_other_roles_are_kept_out(make_channel_isp, answers_by_role, make_staff, login,
                                        client_for, csrf_token_in):  # fmt: skip
    isp = await make_channel_isp()
    roles = (StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE, StaffRole.SUPPORT,
             StaffRole.TECHNICIAN)  # fmt: skip
    answers = await answers_by_role(isp, roles, PAGE)
    assert answers == {
        StaffRole.OWNER: (200,),
        StaffRole.ADMIN: (200,),
        StaffRole.FINANCE: (403,),
        StaffRole.SUPPORT: (403,),
        StaffRole.TECHNICIAN: (403,),
    }
    support = await _signed_in(isp, StaffRole.SUPPORT, make_staff, login, client_for)
    token = csrf_token_in((await support.get("/tickets")).text)
    for path in ("", "/rotate-token", "/test-message"):
        refused = await support.post(PAGE + path, data={"_csrf_token": token, "confirm": "1"})
        assert refused.status_code == 403
    signed_out = await client_for(isp.host).get(PAGE)
    assert signed_out.status_code == 303 and "/login" in signed_out.headers["location"]
