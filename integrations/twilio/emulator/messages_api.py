"""Twilio's Messages API as the emulator serves it, for WhatsApp: the paths, basic auth, form
fields, error codes and message JSON of the `twilio` SDK's `messages.create`, WhatsApp's
24-hour rule, and the signed status callbacks Twilio POSTs as the message moves on."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from kiunga.integrations.twilio.emulator.state import (
    OUTSIDE_WINDOW_ERROR,
    EmulatorState,
    OutboundWhatsApp,
    Outcome,
    TwilioAccount,
)
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

API_VERSION = "2010-04-01"
MAX_BODY = 1600
MAX_FORM_BYTES = 64_000

_WHATSAPP = re.compile(r"^whatsapp:(\+[1-9][0-9]{6,14})$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_URL = re.compile(r"^https?://[^\s/]+\S*$")

# The description Twilio gives error 63016 (a failed message's error_message).
WINDOW_MESSAGE = (
    "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template."
)


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Response:
    """Twilio's error JSON (the legacy shape the SDK reads into TwilioRestException)."""
    return Response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
            **extra,
        },
        status_code=status,
    )


def authentication_error() -> Response:
    return twilio_error(
        401,
        20003,
        "Authentication Error - invalid username",
        detail="Your AccountSid or AuthToken was incorrect.",
    )


_FAULT_ERRORS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def message_json(message: OutboundWhatsApp) -> dict[str, Any]:
    created = format_datetime(datetime.fromisoformat(message.created_at), usegmt=False)
    uri = f"/{API_VERSION}/Accounts/{message.account_sid}/Messages/{message.sid}.json"
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": message.error_code,
        "error_message": WINDOW_MESSAGE if message.error_code == OUTSIDE_WINDOW_ERROR else None,
        "from": f"whatsapp:{message.from_}",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {
            "media": uri.replace(".json", "/Media.json"),
            "feedback": uri.replace(".json", "/Feedback.json"),
        },
        "to": f"whatsapp:{message.to}",
        "uri": uri,
    }


def build_messages_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    async def report_statuses(
        message: OutboundWhatsApp, account: TwilioAccount, outcome: Outcome
    ) -> None:
        for status in outcome.statuses():
            await asyncio.sleep(state.status_delay)
            message.status = status
            if status in ("failed", "undelivered"):
                message.error_code = outcome.error_code
            url = message.status_callback or account.status_callback_url
            if not url:
                continue
            form = {
                "AccountSid": message.account_sid,
                "ApiVersion": API_VERSION,
                "ChannelPrefix": "whatsapp",
                "From": f"whatsapp:{message.from_}",
                "MessageSid": message.sid,
                "MessageStatus": status,
                "SmsSid": message.sid,
                "SmsStatus": status,
                "To": f"whatsapp:{message.to}",
            }
            if status in ("failed", "undelivered") and outcome.error_code is not None:
                form["ErrorCode"] = str(outcome.error_code)
            await state.post_signed("status_callback", url, form, account.auth_token)

    def authenticated(request: Request, account_sid: str) -> TwilioAccount | None:
        credentials = _basic_auth(request)
        if credentials is None or credentials[0] != account_sid:
            return None
        return state.authenticate(*credentials)

    @post(f"/{API_VERSION}/Accounts/{{account_sid:str}}/Messages.json", status_code=201)
    async def create_message(request: Request, account_sid: FromPath[str]) -> Response:
        fault = state.take_fault()
        if fault is not None:
            state.record(direction="in", kind="create", status=fault, fault=True)
            code, text = _FAULT_ERRORS.get(fault, (20500, "Internal Server Error"))
            return twilio_error(fault, code, text)
        account = authenticated(request, account_sid)
        if account is None:
            state.record(direction="in", kind="create", status=401)
            return authentication_error()
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return twilio_error(413, 20001, "Request entity too large")
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            return twilio_error(400, 20001, "Invalid request body")
        form = dict(pairs)
        to_field, from_field = form.get("To", ""), form.get("From", "")
        if not to_field:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not from_field:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        to_match = _WHATSAPP.match(to_field)
        if not to_match:
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to_field[:40]}")
        from_match = _WHATSAPP.match(from_field)
        if not from_match or (
            account.whatsapp_senders is not None
            and from_match.group(1) not in account.whatsapp_senders
        ):
            return twilio_error(
                400, 63007, "Twilio could not find a Channel with the specified From address"
            )
        sender, user = from_match.group(1), to_match.group(1)
        body = form.get("Body")
        content_sid = form.get("ContentSid")
        callback = form.get("StatusCallback")
        if callback is not None and (not _URL.match(callback) or len(callback) > 2000):
            return twilio_error(400, 21609, "Invalid StatusCallback url")
        variables: dict[str, str] | None = None
        if content_sid:
            template = state.templates.get(content_sid)
            if (
                not _CONTENT_SID.match(content_sid)
                or template is None
                or template.account_sid not in (None, account.account_sid)
            ):
                return twilio_error(400, 21655, "The ContentSid is Invalid.")
            try:
                variables = json.loads(form.get("ContentVariables") or "{}")
            except ValueError:
                variables = None
            if not isinstance(variables, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
            ):
                return twilio_error(400, 21656, "The ContentVariables Parameter is invalid.")
            text = template.render(variables)
        else:
            if not body:
                return twilio_error(
                    400, 21619, "A text message body or media urls must be specified."
                )
            if len(body) > MAX_BODY:
                return twilio_error(
                    400, 21617, "The concatenated message body exceeds the 1600 character limit."
                )
            text = body
        # Checked by WhatsApp after Twilio took the message: the answer is 201 either way.
        outside_window = not content_sid and not state.window_open(sender, user)
        message = OutboundWhatsApp(
            sid=state.new_sid(),
            account_sid=account.account_sid,
            from_=sender,
            to=user,
            body=text,
            content_sid=content_sid or None,
            content_variables=variables,
            status="queued",
            status_callback=callback,
            created_at=datetime.now(UTC).isoformat(),
        )
        state.accept(message)
        state.record(direction="in", kind="create", status=201, sid=message.sid, to=user)
        answer = message_json(message)
        if outside_window:
            outcome = Outcome("failed", OUTSIDE_WINDOW_ERROR)
        else:
            outcome = state.outcomes.get(user) or Outcome("read")
        state.background(report_statuses(message, account, outcome))
        return Response(answer, status_code=201)

    @get(
        f"/{API_VERSION}/Accounts/{{account_sid:str}}/Messages/{{sid:str}}",
        sync_to_thread=False,
    )
    def fetch_message(request: Request, account_sid: FromPath[str], sid: FromPath[str]) -> Response:
        if authenticated(request, account_sid) is None:
            return authentication_error()
        message = state.find(sid.removesuffix(".json"))
        if message is None or message.account_sid != account_sid:
            return twilio_error(
                404, 20404, f"The requested resource {request.url.path} was not found"
            )
        return Response(message_json(message))

    return [create_message, fetch_message]
