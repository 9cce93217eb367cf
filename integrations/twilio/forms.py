"""Twilio's WhatsApp webhooks, read from the form fields Twilio POSTs (an inbound message, a
message's status callback) into the dataclasses of `interfaces`.

Check the signature first (`signature.signature_valid`), then parse: a field missing, too
long or malformed raises `FormError` (a ValueError) naming the field (the field readers are
shared with Africa's Talking's: integrations.forms_common).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kiunga.integrations.forms_common import FormError, message_text, optional_line
from kiunga.integrations.twilio.interfaces import InboundWhatsApp, StatusCallback

# WhatsApp allows 4096 characters in a message; Twilio passes it on whole.
MAX_BODY = 4096
MAX_PROFILE_NAME = 256
MAX_MEDIA = 10

_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_WHATSAPP_ADDRESS = re.compile(r"^whatsapp:(\+[1-9][0-9]{6,14})$")
_WA_ID = re.compile(r"^[1-9][0-9]{6,14}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,6}$")

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


def _required(form: Mapping[str, Any], field: str, limit: int) -> str:
    """A one-line value that must be there; absent or blank are both "missing" here (AT's
    forms tell the two apart)."""
    value = optional_line(form, field, limit)
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
    body = message_text(form, "Body", MAX_BODY)
    wa_id = optional_line(form, "WaId", 15)
    if wa_id is not None and not _WA_ID.match(wa_id):
        raise FormError("WaId", f"not a WhatsApp id: {wa_id!r}")
    media = optional_line(form, "NumMedia", 3) or "0"
    if not media.isdigit() or int(media) > MAX_MEDIA:
        raise FormError("NumMedia", f"not a count of media: {media!r}")
    return InboundWhatsApp(
        message_sid=_message_sid(form),
        phone=whatsapp_phone(_required(form, "From", 30), "From"),
        to=whatsapp_phone(_required(form, "To", 30), "To"),
        body=body,
        wa_id=wa_id,
        profile_name=optional_line(form, "ProfileName", MAX_PROFILE_NAME),
        num_media=int(media),
    )


def parse_status_callback(form: Mapping[str, Any]) -> StatusCallback:
    """A message's status callback: MessageSid, MessageStatus, ErrorCode (when it failed),
    To (whatsapp:+…, given back without the prefix)."""
    status = _required(form, "MessageStatus", 20)
    if status not in MESSAGE_STATUSES:
        raise FormError("MessageStatus", f"not one of Twilio's message statuses: {status!r}")
    error_code = optional_line(form, "ErrorCode", 6)
    if error_code is not None and not _ERROR_CODE.match(error_code):
        raise FormError("ErrorCode", f"not an error code: {error_code!r}")
    to = optional_line(form, "To", 30)
    return StatusCallback(
        message_sid=_message_sid(form),
        status=status,
        error_code=error_code,
        phone=whatsapp_phone(to, "To") if to is not None else None,
    )
