"""AT's SMS API as the emulator serves it: POST /version1/messaging exactly as the
`africastalking` SDK calls it (form fields, `apiKey` header), answered with AT's JSON, and the
delivery report AT POSTs a moment later to the app's delivery-report URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from kiunga.integrations.africastalking.emulator.state import (
    EmulatorState,
    OutboundSms,
    cost_text,
    segments,
)
from kiunga.integrations.africastalking.forms import FormError, decode_form
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

AUTH_FAILED = "The supplied authentication is invalid"
DEFAULT_SENDER = "AFRICASTKNG"
MAX_RECIPIENTS = 1000
MAX_MESSAGE = 1600

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-]{0,10}$")
_SHORTCODE = re.compile(r"^[0-9]{3,8}$")
_FLAG = re.compile(r"^[01]$")

_STATUS_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def network_code(phone: str) -> str:
    """The Kenyan network a number belongs to, as AT names it (by its prefix)."""
    local = phone.removeprefix("+254")
    if local.startswith(("77",)):
        return "63907"  # Telkom
    if local.startswith(("73", "75", "78", "100", "101", "102")):
        return "63903"  # Airtel
    if local.startswith(("7", "11")):
        return "63902"  # Safaricom
    return "99999"  # AT's code for "other/unknown" (as the sandbox sends)


def _plain(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type="text/plain")


def _answer(message: str, recipients: list[dict[str, Any]]) -> Response:
    return Response(
        {"SMSMessageData": {"Message": message, "Recipients": recipients}},
        status_code=201,
        media_type="application/json",
    )


def build_sms_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    def deliver_report(sms: OutboundSms, url: str) -> None:
        outcome = state.outcomes.get(sms.to)
        if sms.link_id is not None and sms.link_id not in state.link_ids:
            status, reason = "Failed", "InvalidLinkId"
        elif outcome is not None:
            status, reason = outcome.status, outcome.failure_reason
        else:
            status, reason = "Success", None
        sms.delivery_status, sms.failure_reason = status, reason
        form = {
            "id": sms.message_id,
            "status": status,
            "phoneNumber": sms.to,
            "networkCode": network_code(sms.to),
            "retryCount": "0",
        }
        if reason:
            form["failureReason"] = reason
        state.queue_report(url, form)

    @post("/version1/messaging", status_code=201)
    async def send_messages(request: Request) -> Response:
        status = state.take_fault()
        if status is not None:
            state.record(direction="in", kind="send", status=status, fault=True)
            return _plain(status, _STATUS_TEXT.get(status, "Error"))
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _plain(415, "Unsupported Media Type: send application/x-www-form-urlencoded")
        try:
            form = decode_form(await request.body())
        except FormError as error:
            return _plain(400, f"Invalid request: {error}")
        account = state.authenticate(form.get("username", ""), request.headers.get("apikey", ""))
        if account is None:
            state.record(direction="in", kind="send", status=401)
            return _plain(401, AUTH_FAILED)
        message = form.get("message", "")
        to = form.get("to", "")
        if not message.strip():
            return _plain(400, "Must have message")
        if len(message) > MAX_MESSAGE:
            return _plain(400, f"Message too long: at most {MAX_MESSAGE} characters")
        if "\x00" in message:
            return _plain(400, "Invalid message")
        numbers = [number.strip() for number in to.split(",") if number.strip()]
        if not numbers:
            return _plain(400, "Must have to")
        if len(numbers) > MAX_RECIPIENTS:
            return _plain(400, f"At most {MAX_RECIPIENTS} recipients a request")
        for flag in ("bulkSMSMode", "enqueue"):
            if flag in form and not _FLAG.match(form[flag]):
                return _plain(400, f"Invalid {flag}")
        link_id = form.get("linkId") or None
        if link_id is not None and len(link_id) > 64:
            return _plain(400, "Invalid linkId")
        premium = form.get("bulkSMSMode") == "0"
        sender = form.get("from")
        if sender is not None:
            registered = account.shortcodes if premium else None
            if premium:
                valid = bool(_SHORTCODE.match(sender)) and (
                    registered is None or sender in registered
                )
            else:
                known = [*(account.sender_ids or []), *(account.shortcodes or [])]
                valid = (bool(_SENDER_ID.match(sender)) or bool(_SHORTCODE.match(sender))) and (
                    account.sender_ids is None or sender in known
                )
            if not valid:
                state.record(direction="in", kind="send", status=201, refused="InvalidSenderId")
                return _answer("InvalidSenderId", [])
        elif premium:
            return _answer("InvalidSenderId", [])

        now = datetime.now(UTC).isoformat()
        recipients: list[dict[str, Any]] = []
        accepted: list[OutboundSms] = []
        for number in numbers:
            if not _E164.match(number):
                recipients.append(
                    {
                        "statusCode": 403,
                        "number": number,
                        "status": "InvalidPhoneNumber",
                        "cost": "0",
                        "messageId": "None",
                    }
                )
                continue
            count = segments(message)
            sms = OutboundSms(
                message_id=state.new_message_id(),
                username=account.username,
                to=number,
                message=message,
                sender=sender or DEFAULT_SENDER,
                premium=premium,
                link_id=link_id,
                keyword=form.get("keyword") or None,
                segments=count,
                cost=cost_text(count),
                accepted_at=now,
            )
            state.accept(sms)
            accepted.append(sms)
            recipients.append(
                {
                    "statusCode": 101,
                    "number": number,
                    "status": "Success",
                    "cost": sms.cost,
                    "messageId": sms.message_id,
                }
            )
        total = cost_text(sum(sms.segments for sms in accepted)) if accepted else "0"
        state.record(
            direction="in",
            kind="send",
            status=201,
            username=account.username,
            to=numbers,
            message_ids=[sms.message_id for sms in accepted],
        )
        if account.delivery_report_url:
            for sms in accepted:
                deliver_report(sms, account.delivery_report_url)
        return _answer(f"Sent to {len(accepted)}/{len(numbers)} Total Cost: {total}", recipients)

    return [send_messages]
