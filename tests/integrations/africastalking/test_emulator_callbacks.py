"""The AT emulator acting as AT toward an application: USSD hops and incoming SMS POSTed in
AT's exact form encoding (read back with Kiunga's own parsers), the application's answers
read as AT reads them."""

from __future__ import annotations

import httpx
from kiunga.integrations.africastalking.forms import parse_inbound_sms, parse_ussd_hop

PHONE = "+254712345678"


def control(at_emulator, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{at_emulator.url}{path}", json=body, timeout=30)


def test_a_dialled_session_posts_each_hop_with_the_inputs_so_far(at_emulator, callback_recorder):
    callback_recorder.answer("/ussd", "CON Karibu\n1. Akaunti\n2. Lipa")
    url = f"{callback_recorder.url}/ussd"
    first = control(
        at_emulator,
        "/emulator/ussd/dial",
        {"callback_url": url, "serviceCode": "*483*57#", "phoneNumber": PHONE},
    ).json()
    assert first["kind"] == "CON" and not first["ended"]
    assert first["screen"] == "Karibu\n1. Akaunti\n2. Lipa"
    session = first["session_id"]
    control(at_emulator, "/emulator/ussd/reply", {"sessionId": session, "input": "2"})
    callback_recorder.answer("/ussd", "END Utapokea ombi la M-Pesa")
    last = control(
        at_emulator, "/emulator/ussd/reply", {"sessionId": session, "input": "500"}
    ).json()
    assert last["kind"] == "END" and last["ended"]

    hops = [parse_ussd_hop(callback.form) for callback in callback_recorder.at("/ussd")]
    assert [hop.text for hop in hops] == ["", "2", "2*500"]
    assert {hop.session_id for hop in hops} == {session}
    assert {hop.service_code for hop in hops} == {"*483*57#"}
    assert {hop.phone for hop in hops} == {PHONE}
    assert {hop.network_code for hop in hops} == {"63902"}
    for callback in callback_recorder.at("/ussd"):
        assert callback.headers["content-type"] == "application/x-www-form-urlencoded"

    ended = control(at_emulator, "/emulator/ussd/reply", {"sessionId": session, "input": "1"})
    assert ended.status_code == 409


def test_a_shared_code_with_an_extension_arrives_as_the_shared_code_and_text(
    at_emulator, callback_recorder
):
    callback_recorder.answer("/ussd", "CON ISP tatu")
    answer = control(
        at_emulator,
        "/emulator/ussd/dial",
        {
            "callback_url": f"{callback_recorder.url}/ussd",
            "serviceCode": "*384*12*3#",
            "shared_code": "*384*12#",
            "phoneNumber": "+254733000001",
        },
    ).json()
    [callback] = callback_recorder.at("/ussd")
    hop = parse_ussd_hop(callback.form)
    assert (hop.service_code, hop.text) == ("*384*12#", "3")
    assert hop.network_code == "63903"  # Airtel
    assert answer["screen"] == "ISP tatu"


def test_an_answer_that_is_not_con_or_end_ends_the_session_with_an_error(
    at_emulator, callback_recorder
):
    callback_recorder.answer("/ussd", "Welcome")
    answer = control(
        at_emulator,
        "/emulator/ussd",
        {
            "callback_url": f"{callback_recorder.url}/ussd",
            "serviceCode": "*483*57#",
            "phoneNumber": PHONE,
            "text": "",
        },
    ).json()
    assert answer["ended"] and answer["kind"] is None
    assert "CON" in answer["error"]

    callback_recorder.answer("/ussd", "CON " + "x" * 183)
    long = control(
        at_emulator,
        "/emulator/ussd",
        {
            "callback_url": f"{callback_recorder.url}/ussd",
            "serviceCode": "*483*57#",
            "phoneNumber": PHONE,
            "text": "1",
        },
    ).json()
    assert long["too_long"] is True

    callback_recorder.answer("/ussd", "oops", status=500)
    failed = control(
        at_emulator,
        "/emulator/ussd",
        {
            "callback_url": f"{callback_recorder.url}/ussd",
            "serviceCode": "*483*57#",
            "phoneNumber": PHONE,
            "text": "1",
        },
    ).json()
    assert failed["ended"] and "HTTP 500" in failed["error"]


def test_a_raw_hop_can_be_repeated_as_at_retries(at_emulator, callback_recorder):
    callback_recorder.answer("/ussd", "CON Again")
    control(
        at_emulator,
        "/emulator/ussd",
        {
            "callback_url": f"{callback_recorder.url}/ussd",
            "sessionId": "ATUid_retry",
            "serviceCode": "*483*57#",
            "phoneNumber": PHONE,
            "text": "1*2",
            "repeat": 2,
        },
    )
    forms = [callback.form for callback in callback_recorder.at("/ussd")]
    assert len(forms) == 3 and all(form == forms[0] for form in forms)
    assert forms[0]["text"] == "1*2" and forms[0]["sessionId"] == "ATUid_retry"


def test_an_incoming_sms_is_posted_in_ats_form(at_emulator, callback_recorder):
    text = "NUNUA wiki 🙏 * ā"
    answer = control(
        at_emulator,
        "/emulator/sms/inbound",
        {
            "callback_url": f"{callback_recorder.url}/sms",
            "from": PHONE,
            "to": "22384",
            "text": text,
        },
    ).json()
    [callback] = callback_recorder.at("/sms")
    assert set(callback.form) == {"date", "from", "id", "linkId", "text", "to", "networkCode"}
    sms = parse_inbound_sms(callback.form)
    assert sms.text == text and sms.phone == PHONE and sms.to == "22384"
    assert sms.id == answer["form"]["id"] and sms.link_id == answer["form"]["linkId"]
    assert answer["status"] == 200 and answer["response"] == "OK"


def test_control_requests_are_checked(at_emulator):
    bad = [
        ("/emulator/sms/inbound", {"callback_url": "nope", "from": PHONE, "to": "1", "text": "x"}),
        (
            "/emulator/sms/inbound",
            {"callback_url": "http://x", "from": "0712", "to": "1", "text": "x"},
        ),
        (
            "/emulator/ussd/dial",
            {"callback_url": "http://x", "serviceCode": "384", "phoneNumber": PHONE},
        ),
        ("/emulator/faults", {"status": 200}),
        ("/emulator/accounts", {"username": "x"}),
    ]
    for path, body in bad:
        assert control(at_emulator, path, body).status_code == 400, path
    assert httpx.post(f"{at_emulator.url}/emulator/ussd/dial", content=b"[").status_code == 400
