"""Twilio's WhatsApp webhooks, read from the form fields Twilio POSTs (an inbound message, a
message's status callback) into the dataclasses of `interfaces`.

Check the signature first (`signature.signature_valid`), then parse: a field missing, too
long or malformed raises `FormError` (a ValueError) naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kiunga.integrations.twilio.interfaces import InboundWhatsApp, StatusCallback

# WhatsApp allows 4096 characters in a message; Twilio passes it on whole.
MAX_BODY = 4096
MAX_PROFILE_NAME = 256
MAX_MEDIA = 10

_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:(\+[1-9][0-9]{6,14})$")
_WA_ID = re.compile(r"^[1-9][0-9]{6,14}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,6}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

MESSAGE_STATUSES = frozenset(
    {
        "accepted",
        "scheduled",
        "canceled",
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "read",
    }
)


class FormError(ValueError):
    """A webhook that is not what Twilio sends: `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _value(form: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = form.get(field)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise FormError(field, "given more than once")
        value = value[0]
    if not isinstance(value, str):
        raise FormError(field, "not text")
    if len(value) > limit:
        raise FormError(field, f"longer than {limit} characters")
    if "\x00" in value:
        raise FormError(field, "contains NUL")
    return value


def _one_line(form: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = _value(form, field, limit)
    if value is None:
        return None
    if _CONTROL.search(value) or any(c in value for c in "\n\r\t"):
        raise FormError(field, "contains a control character")
    return value.strip() or None


def _required(form: Mapping[str, Any], field: str, limit: int) -> str:
    value = _one_line(form, field, limit)
    if value is None:
        raise FormError(field, "missing")
    return value


def whatsapp_phone(address: str, field: str = "address") -> str:
    """`whatsapp:+254712345678` → `+254712345678`."""
    match = _WHATSAPP_ADDRESS.match(address)
    if not match:
        raise FormError(field, f"not a whatsapp:+E.164 address: {address[:40]!r}")
    return match.group(1)


def _message_sid(form: Mapping[str, Any]) -> str:
    sid = _required(form, "MessageSid", 34)
    if not _SID.match(sid):
        raise FormError("MessageSid", f"not a message SID: {sid!r}")
    return sid


def parse_inbound_whatsapp(form: Mapping[str, Any]) -> InboundWhatsApp:
    """An inbound WhatsApp message: From (whatsapp:+…), To, Body, WaId, ProfileName,
    MessageSid, NumMedia. Phones come back without the `whatsapp:` prefix."""
    body = _value(form, "Body", MAX_BODY)
    if body is None:
        raise FormError("Body", "missing")
    if _CONTROL.search(body):
        raise FormError("Body", "contains a control character")
    wa_id = _one_line(form, "WaId", 15)
    if wa_id is not None and not _WA_ID.match(wa_id):
        raise FormError("WaId", f"not a WhatsApp id: {wa_id!r}")
    media = _one_line(form, "NumMedia", 3) or "0"
    if not media.isdigit() or int(media) > MAX_MEDIA:
        raise FormError("NumMedia", f"not a count of media: {media!r}")
    return InboundWhatsApp(
        message_sid=_message_sid(form),
        phone=whatsapp_phone(_required(form, "From", 30), "From"),
        to=whatsapp_phone(_required(form, "To", 30), "To"),
        body=body,
        wa_id=wa_id,
        profile_name=_one_line(form, "ProfileName", MAX_PROFILE_NAME),
        num_media=int(media),
    )


def parse_status_callback(form: Mapping[str, Any]) -> StatusCallback:
    """A message's status callback: MessageSid, MessageStatus, ErrorCode (when it failed),
    To (whatsapp:+…, given back without the prefix)."""
    status = _required(form, "MessageStatus", 20)
    if status not in MESSAGE_STATUSES:
        raise FormError("MessageStatus", f"not one of Twilio's message statuses: {status!r}")
    error_code = _one_line(form, "ErrorCode", 6)
    if error_code is not None and not _ERROR_CODE.match(error_code):
        raise FormError("ErrorCode", f"not an error code: {error_code!r}")
    to = _one_line(form, "To", 30)
    return StatusCallback(
        message_sid=_message_sid(form),
        status=status,
        error_code=error_code,
        phone=whatsapp_phone(to, "To") if to is not None else None,
    )
