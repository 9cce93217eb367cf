"""The emulator's own endpoints under /emulator: register accounts, senders and templates,
open or close a number's 24-hour window, choose how messages end, make the API fail, read
what was sent, and act as Twilio toward an application (a subscriber's WhatsApp message,
signed). None of this exists at Twilio."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from kiunga.integrations.emulation.control import (
    E164,
    HTTP_URL,
    BadControlRequest,
    fault_routes,
    guarded,
    log_routes,
    outbox_routes,
    problem,
    string_field,
)
from kiunga.integrations.twilio.emulator.messages_api import API_VERSION
from kiunga.integrations.twilio.emulator.state import (
    FINAL_STATUSES,
    EmulatorState,
    OutboundWhatsApp,
    Outcome,
    Template,
    TwilioAccount,
)
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery

# The statuses the API can be made to fail with: what Twilio answers when it is down or busy.
FAULT_STATUSES = (429, 500, 502, 503, 504)
FAULT_STATUSES_RULE = "status must be 429, 500, 502, 503 or 504"

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")


def _string(body: dict[str, Any], key: str, *, required: bool = True, limit: int = 4096) -> str:
    return string_field(body, key, required=required, limit=limit)


def _phone(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    phone = _string(body, key, required=required).strip().removeprefix("whatsapp:")
    if not phone and not required:
        return ""
    if not E164.match(phone):
        raise BadControlRequest(f"{key} must be +E.164: {phone!r}")
    return phone


def _url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not HTTP_URL.match(value.strip()):
        raise BadControlRequest(f"{key} must be an http(s) URL")
    return value.strip()


def twiml_replies(content_type: str | None, answer: str | None) -> list[str]:
    """The <Message> bodies of a TwiML answer to an inbound message (Twilio sends each as a
    reply); an empty or non-TwiML answer sends nothing."""
    if not answer or "xml" not in (content_type or ""):
        return []
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError:
        return []
    if root.tag != "Response":
        return []
    replies = []
    for element in root.iter("Message"):
        body = element.find("Body")
        text = body.text if body is not None else element.text
        if text and text.strip():
            replies.append(text.strip())
    return replies


def build_control_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    # --- accounts and templates -----------------------------------------------------------

    @post("/emulator/accounts", status_code=201)
    async def register_account(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            sid = _string(body, "account_sid", limit=34)
            if not _ACCOUNT_SID.match(sid):
                raise BadControlRequest("account_sid must be AC and 32 hex digits")
            senders = body.get("whatsapp_senders")
            if senders is not None:
                if not isinstance(senders, list) or not all(
                    isinstance(s, str) and E164.match(s) for s in senders
                ):
                    raise BadControlRequest("whatsapp_senders must be a list of +E.164 numbers")
            url = body.get("status_callback_url")
            account = TwilioAccount(
                account_sid=sid,
                auth_token=_string(body, "auth_token", limit=64),
                whatsapp_senders=senders,
                status_callback_url=_url(url, "status_callback_url") if url else None,
            )
            state.add_account(account)
            return Response(account.public(), status_code=201)

        return await guarded(request, action)

    @get("/emulator/accounts", sync_to_thread=False)
    def list_accounts() -> list[dict[str, Any]]:
        return [account.public() for account in state.accounts.values()]

    @post("/emulator/templates", status_code=201)
    async def register_template(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            sid = _string(body, "content_sid", limit=34)
            if not _CONTENT_SID.match(sid):
                raise BadControlRequest("content_sid must be HX and 32 hex digits")
            template = Template(
                content_sid=sid,
                body=_string(body, "body", limit=1024),
                account_sid=_string(body, "account_sid", required=False, limit=34) or None,
            )
            state.add_template(template)
            return Response(asdict(template), status_code=201)

        return await guarded(request, action)

    @get("/emulator/templates", sync_to_thread=False)
    def list_templates() -> list[dict[str, Any]]:
        return [asdict(template) for template in state.templates.values()]

    # --- the 24-hour window, message fates (faults, outbox: the shared routes) --------------

    @post("/emulator/whatsapp/window", status_code=200)
    async def set_window(request: Request) -> Response:
        """{phone, sender?, hours_ago}: the number last wrote `hours_ago` hours ago (null:
        never — the window is closed)."""

        async def action(body: dict[str, Any]) -> Response:
            phone = _phone(body, "phone")
            sender = _phone(body, "sender", required=False) or None
            senders = (
                [sender]
                if sender
                else sorted(
                    {s for a in state.accounts.values() for s in (a.whatsapp_senders or [])}
                )
            )
            hours = body.get("hours_ago")
            for each in senders:
                if hours is None:
                    state.last_inbound.pop((each, phone), None)
                else:
                    hours_ago = float(hours)
                    if not 0 <= hours_ago <= 24 * 365:
                        raise BadControlRequest("hours_ago must be between 0 and a year")
                    state.wrote(each, phone, datetime.now(UTC) - timedelta(hours=hours_ago))
            return Response(
                {"phone": phone, "open": {s: state.window_open(s, phone) for s in senders}}
            )

        return await guarded(request, action)

    @post("/emulator/whatsapp/outcomes", status_code=200)
    async def set_outcome(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            phone = _phone(body, "phone")
            final = _string(body, "final")
            if final not in FINAL_STATUSES:
                raise BadControlRequest(f"final must be one of {FINAL_STATUSES}")
            code = body.get("error_code")
            if final in ("failed", "undelivered") and code is None:
                code = 63003 if final == "failed" else 30008
            state.outcomes[phone] = Outcome(final, int(code) if code is not None else None)
            return Response({"phone": phone, **asdict(state.outcomes[phone])})

        return await guarded(request, action)

    @delete("/emulator/whatsapp/outcomes", status_code=204, sync_to_thread=False)
    def clear_outcomes() -> None:
        state.outcomes.clear()

    # --- acting as Twilio toward an application ---------------------------------------

    @post("/emulator/whatsapp/inbound", status_code=200)
    async def inbound(request: Request) -> Response:
        """A subscriber's WhatsApp message to a sender: Twilio's inbound form POSTed to
        `webhook_url`, signed over that URL with the sender's account's auth token."""

        async def action(body: dict[str, Any]) -> Response:
            url = _url(body.get("webhook_url"), "webhook_url")
            user = _phone(body, "from")
            sender = _phone(body, "to")
            text = _string(body, "body", limit=4096)
            account_sid = _string(body, "account_sid", required=False, limit=34)
            account = (
                state.accounts.get(account_sid) if account_sid else state.account_for_sender(sender)
            )
            if account is None:
                return problem("no account has this WhatsApp sender (give account_sid)", 404)
            repeat = int(body.get("repeat", 0))
            if not 0 <= repeat <= 20:
                raise BadControlRequest("repeat must be between 0 and 20")
            sid = state.new_sid()
            form = {
                "SmsMessageSid": sid,
                "NumMedia": "0",
                "ProfileName": _string(body, "profile_name", required=False, limit=256),
                "MessageType": "text",
                "SmsSid": sid,
                "WaId": user.removeprefix("+"),
                "SmsStatus": "received",
                "Body": text,
                "To": f"whatsapp:{sender}",
                "NumSegments": "1",
                "ReferralNumMedia": "0",
                "MessageSid": sid,
                "AccountSid": account.account_sid,
                "From": f"whatsapp:{user}",
                "ApiVersion": API_VERSION,
            }
            state.wrote(sender, user)
            state.inbound.append({**form, "received_at": datetime.now(UTC).isoformat()})
            deliveries = [await state.post_signed("inbound", url, form, account.auth_token)]
            for _ in range(repeat):  # Twilio retries a webhook that failed
                deliveries.append(await state.post_signed("inbound", url, form, account.auth_token))
            first = deliveries[0]
            replies = []
            for reply in twiml_replies(first["content_type"], first["response"]):
                message = OutboundWhatsApp(
                    sid=state.new_sid(),
                    account_sid=account.account_sid,
                    from_=sender,
                    to=user,
                    body=reply,
                    content_sid=None,
                    content_variables=None,
                    status="sent",
                    status_callback=None,
                    created_at=datetime.now(UTC).isoformat(),
                    via_twiml=True,
                )
                state.accept(message)
                replies.append(message.public())
            return Response(
                {
                    "form": form,
                    "signature": first["signature"],
                    "status": first["status"],
                    "content_type": first["content_type"],
                    "response": first["response"],
                    "error": first["error"],
                    "twiml_replies": replies,
                    "deliveries": [
                        {k: d[k] for k in ("id", "status", "response", "error", "seconds")}
                        for d in deliveries
                    ],
                }
            )

        return await guarded(request, action)

    @get("/emulator/whatsapp/inbound", sync_to_thread=False)
    def inbound_sent(phone: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """The inbound messages the emulator POSTed, from `phone` (all when none)."""
        wanted = f"whatsapp:{phone}" if phone else None
        return [form for form in list(state.inbound) if wanted is None or form["From"] == wanted]

    # --- settings (the log and health come from log_routes) ------------------------------------

    @post("/emulator/settings", status_code=200)
    async def change_settings(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            if "status_delay" in body:
                state.status_delay = min(60.0, max(0.0, float(body["status_delay"])))
            return Response({"status_delay": state.status_delay})

        return await guarded(request, action)

    return [
        register_account,
        list_accounts,
        register_template,
        list_templates,
        set_window,
        set_outcome,
        clear_outcomes,
        *fault_routes(state, statuses=FAULT_STATUSES, statuses_rule=FAULT_STATUSES_RULE),
        *outbox_routes(state, "/emulator/whatsapp"),
        inbound,
        inbound_sent,
        change_settings,
        *log_routes(state),
    ]
