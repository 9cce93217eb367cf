"""Twilio's WhatsApp webhooks read into Kiunga's dataclasses; anything else refused with the
field named."""

from __future__ import annotations

import pytest
from kiunga.integrations.twilio.forms import (
    FormError,
    parse_inbound_whatsapp,
    parse_status_callback,
)

SID = "SM0123456789abcdef0123456789abcdef"

INBOUND = {
    "SmsMessageSid": SID,
    "NumMedia": "0",
    "ProfileName": "Wanjiku",
    "MessageType": "text",
    "SmsSid": SID,
    "WaId": "254712345678",
    "SmsStatus": "received",
    "Body": "Habari 🙏 nataka kulipa *500*",
    "To": "whatsapp:+14155238886",
    "NumSegments": "1",
    "MessageSid": SID,
    "AccountSid": "AC7a1f0c3e9b2d4f6a8c0e2b4d6f8a1c3e",
    "From": "whatsapp:+254712345678",
    "ApiVersion": "2010-04-01",
}

STATUS = {
    "MessageSid": SID,
    "MessageStatus": "failed",
    "ErrorCode": "63016",
    "To": "whatsapp:+254712345678",
    "From": "whatsapp:+14155238886",
}


def test_an_inbound_message_is_read_without_the_whatsapp_prefix():
    message = parse_inbound_whatsapp(INBOUND)
    assert message.phone == "+254712345678"
    assert message.to == "+14155238886"
    assert message.body == INBOUND["Body"]
    assert message.message_sid == SID
    assert message.wa_id == "254712345678"
    assert message.profile_name == "Wanjiku"
    assert message.num_media == 0


def test_an_inbound_message_with_media_and_no_text():
    message = parse_inbound_whatsapp({**INBOUND, "Body": "", "NumMedia": "1", "ProfileName": ""})
    assert message.body == "" and message.num_media == 1 and message.profile_name is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("From", "+254712345678"),
        ("From", "whatsapp:0712345678"),
        ("To", "sms:+14155238886"),
        ("MessageSid", "SMnothex"),
        ("MessageSid", "XX0123456789abcdef0123456789abcdef"),
        ("Body", "x" * 4097),
        ("Body", "a\x00b"),
        ("WaId", "+254712345678"),
        ("NumMedia", "11"),
        ("NumMedia", "-1"),
        ("ProfileName", "a\nb"),
    ],
)
def test_an_inbound_message_with_a_bad_field_names_it(field, value):
    with pytest.raises(FormError) as refused:
        parse_inbound_whatsapp({**INBOUND, field: value})
    assert refused.value.field == field


@pytest.mark.parametrize("field", ["From", "To", "MessageSid", "Body"])
def test_an_inbound_message_without_a_field_names_it(field):
    with pytest.raises(FormError) as refused:
        parse_inbound_whatsapp({k: v for k, v in INBOUND.items() if k != field})
    assert refused.value.field == field


def test_a_status_callback_is_read():
    status = parse_status_callback(STATUS)
    assert (status.message_sid, status.status, status.error_code) == (SID, "failed", "63016")
    assert status.phone == "+254712345678"
    read = parse_status_callback({"MessageSid": SID, "MessageStatus": "read"})
    assert read.error_code is None and read.phone is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("MessageStatus", "seen"), ("ErrorCode", "abc"), ("To", "+254712345678"), ("MessageSid", "")],
)
def test_a_status_callback_with_a_bad_field_names_it(field, value):
    with pytest.raises(FormError) as refused:
        parse_status_callback({**STATUS, field: value})
    assert refused.value.field == field
