"""Africa's Talking's callbacks, read from the form fields AT POSTs (USSD hops, incoming SMS,
delivery reports) into the dataclasses of `interfaces`.

Everything is checked and bounded here, before any business code sees it: a field missing,
too long, or carrying a NUL or another control character raises `FormError` (a ValueError)
naming the field. AT signs nothing, so nothing here is trusted beyond its shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from kiunga.integrations.africastalking.interfaces import DeliveryReport, InboundSms, UssdHop

# A whole callback body: AT's longest (an SMS of several parts) is a few kilobytes.
MAX_BODY_BYTES = 16_384
MAX_FIELDS = 30

MAX_USSD_TEXT = 1000  # every input of a session joined by "*"
MAX_SMS_TEXT = 2000  # a long SMS arrives joined (up to ~13 GSM-7 parts)
MAX_ID = 64  # sessionId, id, linkId: AT's are ~40 characters ("ATUid_…", UUIDs)
MAX_SHORT = 20  # to (a shortcode or a number), networkCode
MAX_DATE = 40
MAX_FAILURE_REASON = 100

# AT writes phones as +E.164.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SERVICE_CODE = re.compile(r"^\*[0-9*#]{1,38}$")
_NETWORK_CODE = re.compile(r"^[0-9]{1,8}$")
_SHORTCODE_OR_NUMBER = re.compile(r"^\+?[0-9A-Za-z]{1,19}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

DELIVERY_STATUSES = frozenset(
    {
        "Sent",
        "Submitted",
        "Buffered",
        "Rejected",
        "Success",
        "Failed",
        "AbsentSubscriber",
        "Expired",
    }
)


class FormError(ValueError):
    """A callback that is not what AT sends: `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def decode_form(raw: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict, strictly: bounded, UTF-8, each
    field once (AT never repeats one; a repeat is someone else's request)."""
    if len(raw) > MAX_BODY_BYTES:
        raise FormError("body", f"longer than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("body", "not UTF-8") from None
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise FormError("body", f"not a form: {error}") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise FormError(name, "given more than once")
        form[name] = value
    return form


def _value(form: Mapping[str, Any], field: str) -> str | None:
    value = form.get(field)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise FormError(field, "given more than once")
        value = value[0]
    if not isinstance(value, str):
        raise FormError(field, "not text")
    return value


def _checked(form: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = _value(form, field)
    if value is None:
        return None
    if len(value) > limit:
        raise FormError(field, f"longer than {limit} characters")
    if "\x00" in value:
        raise FormError(field, "contains NUL")
    return value


def _one_line(value: str, field: str) -> str:
    if _CONTROL.search(value) or any(c in value for c in "\n\r\t"):
        raise FormError(field, "contains a control character")
    return value.strip()


def _required(
    form: Mapping[str, Any], field: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str:
    """A one-line value that must be there: no control characters, spaces around dropped."""
    value = _checked(form, field, limit)
    if value is None:
        raise FormError(field, "missing")
    value = _one_line(value, field)
    if not value:
        raise FormError(field, "empty")
    if pattern is not None and not pattern.match(value):
        raise FormError(field, f"not valid: {value[:40]!r}")
    return value


def _optional(
    form: Mapping[str, Any], field: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str | None:
    """A one-line value that may be absent or empty (None then)."""
    value = _checked(form, field, limit)
    if value is None:
        return None
    value = _one_line(value, field)
    if not value:
        return None
    if pattern is not None and not pattern.match(value):
        raise FormError(field, f"not valid: {value[:40]!r}")
    return value


def _message_text(form: Mapping[str, Any], field: str, limit: int) -> str:
    """Free text a person typed: kept as typed (newlines, emoji, diacritics, `*`), but no NUL
    or other control characters besides line breaks and tabs."""
    value = _checked(form, field, limit)
    if value is None:
        raise FormError(field, "missing")
    if _CONTROL.search(value):
        raise FormError(field, "contains a control character")
    return value


def parse_ussd_hop(form: Mapping[str, Any]) -> UssdHop:
    """One USSD callback: sessionId, serviceCode, phoneNumber, networkCode, text (the
    session's inputs so far joined by `*`; empty on the first hop)."""
    text = _value(form, "text")
    if text is None:
        raise FormError("text", "missing")
    if len(text) > MAX_USSD_TEXT:
        raise FormError("text", f"longer than {MAX_USSD_TEXT} characters")
    if _CONTROL.search(text) or "\n" in text or "\r" in text:
        raise FormError("text", "contains a control character")
    return UssdHop(
        session_id=_required(form, "sessionId", MAX_ID),
        service_code=_required(form, "serviceCode", 40, _SERVICE_CODE),
        phone=_required(form, "phoneNumber", 16, _E164),
        network_code=_required(form, "networkCode", 8, _NETWORK_CODE),
        text=text,
    )


def parse_inbound_sms(form: Mapping[str, Any]) -> InboundSms:
    """An incoming SMS: from, to (the shortcode or number), text, date, id; linkId for
    premium (on-demand) shortcodes; networkCode."""
    return InboundSms(
        id=_required(form, "id", MAX_ID),
        phone=_required(form, "from", 16, _E164),
        to=_required(form, "to", MAX_SHORT, _SHORTCODE_OR_NUMBER),
        text=_message_text(form, "text", MAX_SMS_TEXT),
        date=_required(form, "date", MAX_DATE),
        link_id=_optional(form, "linkId", MAX_ID),
        network_code=_optional(form, "networkCode", 8, _NETWORK_CODE),
    )


def parse_delivery_report(form: Mapping[str, Any]) -> DeliveryReport:
    """A delivery report: id (the messageId the send returned), status, phoneNumber,
    networkCode, failureReason (when it failed), retryCount."""
    status = _required(form, "status", 30)
    if status not in DELIVERY_STATUSES:
        raise FormError("status", f"not one of AT's delivery statuses: {status!r}")
    retry_text = _optional(form, "retryCount", 4)
    retry_count = None
    if retry_text is not None:
        if not retry_text.isdigit() or int(retry_text) > 1000:
            raise FormError("retryCount", f"not a count: {retry_text!r}")
        retry_count = int(retry_text)
    return DeliveryReport(
        id=_required(form, "id", MAX_ID),
        status=status,
        phone=_required(form, "phoneNumber", 16, _E164),
        network_code=_optional(form, "networkCode", 8, _NETWORK_CODE),
        failure_reason=_optional(form, "failureReason", MAX_FAILURE_REASON),
        retry_count=retry_count,
    )
