"""The `africastalking` SDK, through `AfricasTalkingSms`, against the AT emulator over real
HTTP: sends, premium replies, refusals, AT down, and the delivery reports that follow."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from africastalking.SMS import SMSService
from kiunga.integrations.africastalking.client import AfricasTalkingSms, parse_cost
from kiunga.integrations.africastalking.emulator import DEMO_API_KEY, DEMO_USERNAME
from kiunga.integrations.africastalking.forms import parse_delivery_report
from kiunga.integrations.africastalking.interfaces import (
    AtCredentials,
    SmsRefused,
    SmsUnavailable,
)

from fixtures.waiting import eventually

PHONE = "+254712345678"


@pytest.fixture(scope="module")
def sms():
    client = AfricasTalkingSms(max_workers=16)
    yield client
    client.close()


async def control(at_emulator, path: str, body: dict | None = None):
    """POST (with a body) or GET one of the emulator's control endpoints; its JSON."""
    async with httpx.AsyncClient(base_url=at_emulator.url, timeout=30) as http:
        answer = await (http.post(path, json=body) if body is not None else http.get(path))
    assert answer.status_code < 300, answer.text
    return answer.json()


async def outbox(at_emulator, phone: str) -> list[dict]:
    return await control(at_emulator, f"/emulator/sms/outbox?phone={phone.replace('+', '%2B')}")


async def test_a_message_is_sent_and_stored_with_its_cost(sms, at_account, at_emulator):
    credentials = at_account()
    phone = "+254711000101"
    sent = await sms.send(credentials, to=phone, message="Karibu Kiunga", sender_id="TESTISP")
    assert sent.accepted and sent.status_code == 101 and sent.status == "Success"
    assert sent.phone == phone
    assert sent.message_id and sent.message_id.startswith("ATXid_")
    assert parse_cost(sent.cost) == ("KES", 800_000)
    [stored] = await outbox(at_emulator, phone)
    assert stored["message_id"] == sent.message_id
    assert stored["message"] == "Karibu Kiunga"
    assert stored["sender"] == "TESTISP"
    assert stored["username"] == credentials.username
    assert stored["premium"] is False


async def test_a_long_or_unicode_message_costs_by_segment(sms, at_account):
    credentials = at_account()
    long_gsm = await sms.send(credentials, to="+254711000102", message="a" * 161)
    assert parse_cost(long_gsm.cost) == ("KES", 1_600_000)
    one_ucs2 = await sms.send(credentials, to="+254711000102", message="Asante 🙏" + "x" * 60)
    assert parse_cost(one_ucs2.cost) == ("KES", 800_000)
    two_ucs2 = await sms.send(credentials, to="+254711000102", message="🙏" + "x" * 70)
    assert parse_cost(two_ucs2.cost) == ("KES", 1_600_000)


async def test_a_premium_reply_goes_from_the_shortcode_with_the_link_id(
    sms, at_account, at_emulator, callback_recorder
):
    credentials = at_account(delivery_report_url=f"{callback_recorder.url}/delivery")
    phone = "+254711000103"
    inbound = await control(
        at_emulator,
        "/emulator/sms/inbound",
        {
            "callback_url": f"{callback_recorder.url}/sms",
            "from": phone,
            "to": "22384",
            "text": "BAL",
        },
    )
    link_id = inbound["form"]["linkId"]
    assert link_id
    sent = await sms.send(
        credentials, to=phone, message="Salio: KES 0", shortcode="22384", link_id=link_id
    )
    assert sent.accepted
    [stored] = await outbox(at_emulator, phone)
    assert stored["premium"] is True
    assert stored["link_id"] == link_id
    assert stored["sender"] == "22384"
    [report] = await eventually(lambda: callback_recorder.at("/delivery"))
    delivered = parse_delivery_report(report.form)
    assert delivered.id == sent.message_id
    assert delivered.status == "Success"
    assert delivered.phone == phone


async def test_a_premium_reply_with_a_link_id_nobody_sent_is_reported_failed(
    sms, at_account, callback_recorder
):
    credentials = at_account(delivery_report_url=f"{callback_recorder.url}/delivery")
    sent = await sms.send(
        credentials, to="+254711000104", message="x", shortcode="22384", link_id="made-up"
    )
    [report] = await eventually(lambda: callback_recorder.at("/delivery"))
    failed = parse_delivery_report(report.form)
    assert failed.id == sent.message_id
    assert (failed.status, failed.failure_reason) == ("Failed", "InvalidLinkId")


async def test_a_wrong_api_key_is_refused(sms, at_emulator):
    credentials = AtCredentials(DEMO_USERNAME, "atsk_wrong", base_url=at_emulator.url)
    with pytest.raises(SmsRefused, match="The supplied authentication is invalid"):
        await sms.send(credentials, to=PHONE, message="x")
    unknown = AtCredentials("nobody", DEMO_API_KEY, base_url=at_emulator.url)
    with pytest.raises(SmsRefused):
        await sms.send(unknown, to=PHONE, message="x")


@pytest.mark.parametrize("sender_id", ["NOTREGISTRD", "FAR-TOO-LONG-ID", "<script>"])
async def test_a_sender_id_not_the_accounts_is_refused(sms, at_account, at_emulator, sender_id):
    credentials = at_account()
    phone = "+254711000105"
    with pytest.raises(SmsRefused, match="InvalidSenderId"):
        await sms.send(credentials, to=phone, message="x", sender_id=sender_id)
    assert (await outbox(at_emulator, phone)) == []


async def test_a_premium_reply_from_a_shortcode_not_the_accounts_is_refused(sms, at_account):
    with pytest.raises(SmsRefused, match="InvalidSenderId"):
        await sms.send(at_account(), to=PHONE, message="x", shortcode="99999", link_id="l")


async def test_a_number_the_sdk_refuses_never_leaves(sms, at_account):
    with pytest.raises(SmsRefused, match="Invalid phone number"):
        await sms.send(at_account(), to="0712345678", message="x")


async def test_an_empty_message_is_refused(sms, at_account):
    with pytest.raises(SmsRefused, match="HTTP 400"):
        await sms.send(at_account(), to=PHONE, message="   ")


async def test_at_down_for_some_requests_then_back(sms, at_account, at_emulator):
    credentials = at_account()
    phone = "+254711000106"
    await control(at_emulator, "/emulator/faults", {"status": 500, "count": 2})
    for _ in range(2):
        with pytest.raises(SmsUnavailable, match="HTTP 500"):
            await sms.send(credentials, to=phone, message="Reminder")
    assert (await outbox(at_emulator, phone)) == []
    sent = await sms.send(credentials, to=phone, message="Reminder")
    assert sent.accepted
    assert len(await outbox(at_emulator, phone)) == 1


async def test_at_down_for_a_while_then_back(sms, at_account, at_emulator):
    credentials = at_account()
    phone = "+254711000107"
    await control(at_emulator, "/emulator/faults", {"status": 503, "seconds": 0.5})
    with pytest.raises(SmsUnavailable, match="HTTP 503"):
        await sms.send(credentials, to=phone, message="Reminder")
    failures = 1

    async def sent_once_back():
        nonlocal failures
        try:
            return await sms.send(credentials, to=phone, message="Reminder")
        except SmsUnavailable:
            failures += 1
            return None

    sent = await eventually(sent_once_back)
    assert sent.accepted and failures >= 1
    assert len(await outbox(at_emulator, phone)) == 1


async def test_at_unreachable_is_unavailable(sms):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    credentials = AtCredentials("x", "y", base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(SmsUnavailable, match="unreachable"):
        await sms.send(credentials, to=PHONE, message="x")


async def test_many_sends_at_once_are_each_accepted_once(sms, at_account, at_emulator):
    credentials = at_account()
    phones = [f"+25471100{n:04d}" for n in range(200, 400)]
    sent = await asyncio.gather(
        *(sms.send(credentials, to=phone, message=f"Reminder {phone}") for phone in phones)
    )
    assert all(s.accepted for s in sent)
    assert len({s.message_id for s in sent}) == len(phones)
    stats = await control(at_emulator, "/emulator/sms/stats")
    assert not [d for d in stats["duplicates"] if d["username"] == credentials.username]


async def test_a_message_accepted_twice_is_counted_as_a_duplicate(sms, at_account, at_emulator):
    credentials = at_account()
    for _ in range(2):
        await sms.send(credentials, to="+254711000108", message="Your receipt")
    stats = await control(at_emulator, "/emulator/sms/stats")
    [duplicate] = [d for d in stats["duplicates"] if d["username"] == credentials.username]
    assert duplicate["count"] == 2


def test_the_unmodified_sdk_reads_the_emulators_answer(at_emulator):
    """The emulator answers as AT does (201, application/json): the SDK's own transport
    returns the parsed JSON, not text."""
    service = SMSService(DEMO_USERNAME, DEMO_API_KEY)
    service._baseUrl = service._contentUrl = f"{at_emulator.url}/version1"
    answer = service.send("Hello", ["+254711000109"], sender_id="KIUNGA")
    assert isinstance(answer, dict)
    [recipient] = answer["SMSMessageData"]["Recipients"]
    assert recipient["statusCode"] == 101
    assert answer["SMSMessageData"]["Message"] == "Sent to 1/1 Total Cost: KES 0.8000"


@pytest.mark.parametrize(
    ("cost", "parsed"),
    [
        ("KES 0.8000", ("KES", 800_000)),
        ("KES 1.6000", ("KES", 1_600_000)),
        ("USD 0.0081", ("USD", 8_100)),
        ("0", None),
        ("KES 0", None),
        (None, None),
    ],
)
def test_costs_are_read_exactly(cost, parsed):
    assert parse_cost(cost) == parsed


@pytest.mark.parametrize(
    "cost", ["KES", "KES abc", "0.8 KES", "KES -1", "KES 0.0000001", "KES nan"]
)
def test_a_cost_that_is_not_one_is_refused(cost):
    with pytest.raises(ValueError):
        parse_cost(cost)
