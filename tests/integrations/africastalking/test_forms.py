"""AT's callback forms read into Kiunga's dataclasses: what AT sends is taken as sent, and
anything else is refused with the field named."""

from __future__ import annotations

import pytest
from kiunga.integrations.africastalking.forms import (
    FormError,
    decode_form,
    parse_delivery_report,
    parse_inbound_sms,
    parse_ussd_hop,
)

HOP = {
    "sessionId": "ATUid_5f0e1b2c3d4e5f60718293a4b5c6d7e8",
    "serviceCode": "*384*12#",
    "phoneNumber": "+254712345678",
    "networkCode": "63902",
    "text": "",
}

SMS = {
    "date": "2026-12-07 20:51:00",
    "from": "+254712345678",
    "id": "9a7e2b1c-0d4f-4e6a-8b3c-5d2e1f0a9b8c",
    "linkId": "SampleLinkId123",
    "text": "LIPA 500",
    "to": "22384",
    "networkCode": "63902",
}

REPORT = {
    "id": "ATXid_0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "status": "Failed",
    "phoneNumber": "+254712345678",
    "networkCode": "63902",
    "failureReason": "UserInBlackList",
    "retryCount": "0",
}


def test_a_first_ussd_hop_has_empty_text():
    hop = parse_ussd_hop(HOP)
    assert hop.session_id == HOP["sessionId"]
    assert hop.service_code == "*384*12#"
    assert hop.phone == "+254712345678"
    assert hop.network_code == "63902"
    assert hop.text == ""


def test_a_later_hop_keeps_the_inputs_joined_by_star():
    assert parse_ussd_hop({**HOP, "text": "3*1*500"}).text == "3*1*500"


@pytest.mark.parametrize(
    "field", ["sessionId", "serviceCode", "phoneNumber", "networkCode", "text"]
)
def test_a_hop_without_a_field_names_it(field):
    form = {k: v for k, v in HOP.items() if k != field}
    with pytest.raises(FormError) as refused:
        parse_ussd_hop(form)
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "1*" * 501),
        ("text", "1\x002"),
        ("text", "1\n2"),
        ("phoneNumber", "0712345678"),
        ("phoneNumber", "+2547123456789012"),
        ("serviceCode", "384#"),
        ("serviceCode", "*384*12#; DROP"),
        ("networkCode", "safaricom"),
        ("sessionId", "x" * 65),
        ("sessionId", "   "),
    ],
)
def test_a_hop_with_a_bad_field_names_it(field, value):
    with pytest.raises(FormError) as refused:
        parse_ussd_hop({**HOP, field: value})
    assert refused.value.field == field


def test_an_inbound_sms_keeps_the_text_as_typed():
    text = "Habari, nimelipa 500* 🙏 — asante\nKaribu"
    sms = parse_inbound_sms({**SMS, "text": text})
    assert sms.text == text
    assert sms.phone == "+254712345678"
    assert sms.to == "22384"
    assert sms.link_id == "SampleLinkId123"
    assert sms.network_code == "63902"
    assert sms.id == SMS["id"]


def test_an_inbound_sms_without_link_id_or_network_is_taken():
    form = {k: v for k, v in SMS.items() if k not in ("linkId", "networkCode")}
    sms = parse_inbound_sms(form)
    assert sms.link_id is None and sms.network_code is None
    assert parse_inbound_sms({**SMS, "linkId": ""}).link_id is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "x" * 2001),
        ("text", "a\x00b"),
        ("text", "a\x07b"),
        ("from", "254712345678"),
        ("to", "2238 4"),
        ("id", ""),
    ],
)
def test_an_inbound_sms_with_a_bad_field_names_it(field, value):
    with pytest.raises(FormError) as refused:
        parse_inbound_sms({**SMS, field: value})
    assert refused.value.field == field


def test_a_delivery_report_is_read_whole():
    report = parse_delivery_report(REPORT)
    assert report.id == REPORT["id"]
    assert report.status == "Failed"
    assert report.failure_reason == "UserInBlackList"
    assert report.retry_count == 0
    assert report.phone == "+254712345678"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "Delivered"),
        ("retryCount", "-1"),
        ("retryCount", "many"),
        ("phoneNumber", "+"),
        ("failureReason", "x" * 101),
    ],
)
def test_a_delivery_report_with_a_bad_field_names_it(field, value):
    with pytest.raises(FormError) as refused:
        parse_delivery_report({**REPORT, field: value})
    assert refused.value.field == field


def test_a_form_body_is_decoded_strictly():
    assert decode_form(b"a=1&b=%2A384%23&c=") == {"a": "1", "b": "*384#", "c": ""}
    assert decode_form(b"") == {}
    with pytest.raises(FormError) as repeated:
        decode_form(b"text=1&text=2")
    assert repeated.value.field == "text"
    with pytest.raises(FormError):
        decode_form(b"text=%FF")
    with pytest.raises(FormError):
        decode_form(b"x=" + b"1" * 20_000)
    with pytest.raises(FormError):
        decode_form("&".join(f"f{i}=1" for i in range(100)).encode())
