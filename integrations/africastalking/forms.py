"""Africa's Talking's callbacks, read from the form fields AT POSTs (USSD hops, incoming SMS,
delivery reports) into the dataclasses of `interfaces`.

Everything is checked and bounded here, before any business code sees it: a field missing,
too long, or carrying a NUL or another control character raises `FormError` (a ValueError)
naming the field (the field readers are shared with Twilio's: integrations.forms_common).
AT signs nothing, so nothing here is trusted beyond its shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from kiunga.integrations.africastalking.interfaces import DeliveryReport, InboundSms, UssdHop
from kiunga.integrations.forms_common import (
    CONTROL,
    FormError,
    bounded_value,
    message_text,
    one_line,
    optional_line,
    single_value,
)

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


def _required(
    form: Mapping[str, Any], field: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str:
    """A one-line value that must be there: no control characters, spaces around dropped."""
    value = bounded_value(form, field, limit)
    if value is None:
        raise FormError(field, "missing")
    value = one_line(value, field)
    if not value:
        raise FormError(field, "empty")
    if pattern is not None and not pattern.match(value):
        raise FormError(field, f"not valid: {value[:40]!r}")
    return value


def parse_ussd_hop(form: Mapping[str, Any]) -> UssdHop:
    """One USSD callback: sessionId, serviceCode, phoneNumber, networkCode, text (the
    session's inputs so far joined by `*`; empty on the first hop)."""
    text = single_value(form, "text")
    if text is None:
        raise FormError("text", "missing")
    if len(text) > MAX_USSD_TEXT:
        raise FormError("text", f"longer than {MAX_USSD_TEXT} characters")
    if CONTROL.search(text) or "\n" in text or "\r" in text:
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
        text=message_text(form, "text", MAX_SMS_TEXT),
        date=_required(form, "date", MAX_DATE),
        link_id=optional_line(form, "linkId", MAX_ID),
        network_code=optional_line(form, "networkCode", 8, _NETWORK_CODE),
    )


def parse_delivery_report(form: Mapping[str, Any]) -> DeliveryReport:
    """A delivery report: id (the messageId the send returned), status, phoneNumber,
    networkCode, failureReason (when it failed), retryCount."""
    status = _required(form, "status", 30)
    if status not in DELIVERY_STATUSES:
        raise FormError("status", f"not one of AT's delivery statuses: {status!r}")
    retry_text = optional_line(form, "retryCount", 4)
    retry_count = None
    if retry_text is not None:
        if not retry_text.isdigit() or int(retry_text) > 1000:
            raise FormError("retryCount", f"not a count: {retry_text!r}")
        retry_count = int(retry_text)
    return DeliveryReport(
        id=_required(form, "id", MAX_ID),
        status=status,
        phone=_required(form, "phoneNumber", 16, _E164),
        network_code=optional_line(form, "networkCode", 8, _NETWORK_CODE),
        failure_reason=optional_line(form, "failureReason", MAX_FAILURE_REASON),
        retry_count=retry_count,
    )
