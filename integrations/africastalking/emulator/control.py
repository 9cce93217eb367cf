"""The emulator's own endpoints under /emulator: register accounts, make the send API fail,
read what was sent, and act as AT toward an application (USSD hops, incoming SMS). None of
this exists at Africa's Talking."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from kiunga.integrations.africastalking.emulator.sms_api import network_code
from kiunga.integrations.africastalking.emulator.state import (
    Account,
    DeliveryOutcome,
    EmulatorState,
    UssdSession,
)
from kiunga.integrations.africastalking.forms import DELIVERY_STATUSES
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery

# A USSD screen: what a phone shows at most (AT cuts the rest).
MAX_USSD_SCREEN = 182

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_URL = re.compile(r"^https?://[^\s/]+\S*$")
_SERVICE_CODE = re.compile(r"^\*[0-9*]{1,38}#$")


class BadControlRequest(Exception):
    pass


def _problem(message: str, status: int = 400) -> Response:
    return Response({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise BadControlRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadControlRequest("the body must be a JSON object")
    return body


def _string(body: dict[str, Any], key: str, *, required: bool = True, limit: int = 2000) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise BadControlRequest(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise BadControlRequest(f"{key} must be a string")
    if len(value) > limit:
        raise BadControlRequest(f"{key} is longer than {limit} characters")
    return value


def _phone(body: dict[str, Any], key: str) -> str:
    phone = _string(body, key).strip()
    if not _E164.match(phone):
        raise BadControlRequest(f"{key} must be +E.164: {phone!r}")
    return phone


def _url(body: dict[str, Any], key: str) -> str:
    url = _string(body, key).strip()
    if not _URL.match(url):
        raise BadControlRequest(f"{key} must be an http(s) URL")
    return url


def ussd_screen(entry: dict[str, Any]) -> dict[str, Any]:
    """An application's answer to a USSD hop, read as AT reads it: `CON …` (more to come) or
    `END …` (the session is over); anything else, an error or silence ends the session."""
    raw = entry.get("response")
    result: dict[str, Any] = {
        "status": entry.get("status"),
        "content_type": entry.get("content_type"),
        "raw": raw,
        "seconds": entry.get("seconds"),
        "kind": None,
        "screen": None,
        "ended": True,
        "too_long": False,
        "error": entry.get("error"),
    }
    if result["error"]:
        return result
    if entry.get("status") != 200:
        result["error"] = f"the application answered HTTP {entry.get('status')}"
        return result
    if not (entry.get("content_type") or "").startswith("text/plain"):
        result["error"] = "the application's answer is not text/plain"
    text = raw or ""
    if text.startswith(("CON ", "END ")):
        result["kind"] = text[:3]
        result["screen"] = text[4:]
        result["ended"] = text.startswith("END ")
        result["too_long"] = len(text[4:]) > MAX_USSD_SCREEN
    else:
        result["error"] = "the application's answer does not start with 'CON ' or 'END '"
    return result


def build_control_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    async def guarded(request: Request, action: Any) -> Response:
        try:
            body = await _json_object(request)
            return await action(body)
        except BadControlRequest as error:
            return _problem(str(error))
        except (TypeError, ValueError) as error:
            return _problem(str(error))

    # --- accounts ---------------------------------------------------------------------------

    @post("/emulator/accounts", status_code=201)
    async def register_account(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            url = body.get("delivery_report_url")
            if url is not None and not _URL.match(str(url)):
                raise BadControlRequest("delivery_report_url must be an http(s) URL")
            account = Account(
                username=_string(body, "username", limit=100),
                api_key=_string(body, "api_key", limit=200),
                sender_ids=body.get("sender_ids"),
                shortcodes=body.get("shortcodes"),
                delivery_report_url=url,
            )
            for key in ("sender_ids", "shortcodes"):
                values = getattr(account, key)
                if values is not None and not (
                    isinstance(values, list) and all(isinstance(v, str) for v in values)
                ):
                    raise BadControlRequest(f"{key} must be a list of strings")
            state.add_account(account)
            return Response(account.public(), status_code=201)

        return await guarded(request, action)

    @get("/emulator/accounts", sync_to_thread=False)
    def list_accounts() -> list[dict[str, Any]]:
        return [account.public() for account in state.accounts.values()]

    # --- faults: AT down ------------------------------------------------------------------

    @post("/emulator/faults", status_code=200)
    async def add_fault(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            status = int(body.get("status", 500))
            if not 400 <= status <= 599:
                raise BadControlRequest("status must be an HTTP error status")
            count = body.get("count")
            seconds = body.get("seconds")
            if count is None and seconds is None:
                count = 1
            count = int(count) if count is not None else None
            seconds = float(seconds) if seconds is not None else None
            if count is not None and not 1 <= count <= 1_000_000:
                raise BadControlRequest("count must be between 1 and 1000000")
            if seconds is not None and not 0 < seconds <= 3600:
                raise BadControlRequest("seconds must be between 0 and 3600")
            state.add_fault(status, count, seconds)
            return Response(
                {
                    "faults": [asdict(fault) for fault in state.faults],
                    "failed": state.failed_requests,
                }
            )

        return await guarded(request, action)

    @delete("/emulator/faults", status_code=204, sync_to_thread=False)
    def clear_faults() -> None:
        state.faults.clear()

    # --- what was sent --------------------------------------------------------------------

    @get("/emulator/sms/outbox", sync_to_thread=False)
    def outbox(phone: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        return [sms.public() for sms in state.messages_to(phone)]

    @delete("/emulator/sms/outbox", status_code=204, sync_to_thread=False)
    def clear_outbox() -> None:
        state.clear_outbox()

    @get("/emulator/sms/stats", sync_to_thread=False)
    def stats() -> dict[str, Any]:
        return {
            "accepted": len(state.outbox),
            "distinct": len(state.accepted),
            "duplicates": state.duplicates(),
            "failed_requests": state.failed_requests,
        }

    @post("/emulator/sms/outcomes", status_code=200)
    async def set_outcome(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            phone = _phone(body, "phone")
            status = _string(body, "status")
            if status not in DELIVERY_STATUSES:
                raise BadControlRequest(f"status must be one of {sorted(DELIVERY_STATUSES)}")
            reason = _string(body, "failure_reason", required=False, limit=100) or None
            state.outcomes[phone] = DeliveryOutcome(status, reason)
            return Response({"phone": phone, "status": status, "failure_reason": reason})

        return await guarded(request, action)

    @delete("/emulator/sms/outcomes", status_code=204, sync_to_thread=False)
    def clear_outcomes() -> None:
        state.outcomes.clear()

    # --- acting as AT toward an application: incoming SMS -------------------------------

    @post("/emulator/sms/inbound", status_code=200)
    async def inbound_sms(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            url = _url(body, "callback_url")
            sender = _phone(body, "from")
            to = _string(body, "to", limit=20).strip()
            text = _string(body, "text", limit=2000)
            link_id = body.get("linkId", f"{uuid.uuid4()}")
            repeat = int(body.get("repeat", 0))
            if not 0 <= repeat <= 20:
                raise BadControlRequest("repeat must be between 0 and 20")
            form = {
                "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "from": sender,
                "id": str(uuid.uuid4()),
                "linkId": "" if link_id is None else str(link_id),
                "text": text,
                "to": to,
                "networkCode": str(body.get("networkCode") or network_code(sender)),
            }
            if link_id:
                state.link_ids.add(str(link_id))
            state.inbound.append(form)
            deliveries = [await state.post_form("inbound_sms", url, form)]
            for _ in range(repeat):  # AT re-POSTs a callback it thinks was not taken
                deliveries.append(await state.post_form("inbound_sms", url, form))
            return Response(
                {
                    "form": form,
                    "deliveries": [
                        {k: d[k] for k in ("id", "status", "response", "error", "seconds")}
                        for d in deliveries
                    ],
                    "status": deliveries[0]["status"],
                    "response": deliveries[0]["response"],
                    "error": deliveries[0]["error"],
                }
            )

        return await guarded(request, action)

    @get("/emulator/sms/inbound", sync_to_thread=False)
    def inbound_sent(phone: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """The incoming SMS the emulator POSTed, from `phone` (all when none)."""
        return [form for form in list(state.inbound) if phone is None or form["from"] == phone]

    # --- acting as AT toward an application: USSD -----------------------------------------

    async def hop(session: UssdSession, repeat: int = 0) -> dict[str, Any]:
        form = {
            "sessionId": session.session_id,
            "serviceCode": session.service_code,
            "phoneNumber": session.phone,
            "networkCode": session.network_code,
            "text": session.text,
        }
        entry = await state.post_form("ussd", session.callback_url, form)
        for _ in range(repeat):
            entry = await state.post_form("ussd", session.callback_url, form)
        screen = {"text": session.text, **ussd_screen(entry)}
        session.screens.append(screen)
        session.ended = screen["ended"]
        return {"session_id": session.session_id, "form": form, **screen}

    @post("/emulator/ussd", status_code=200)
    async def ussd_raw(request: Request) -> Response:
        """One hop exactly as given (the caller keeps the session's text)."""

        async def action(body: dict[str, Any]) -> Response:
            phone = _phone(body, "phoneNumber")
            code = _string(body, "serviceCode", limit=40).strip()
            if not _SERVICE_CODE.match(code):
                raise BadControlRequest("serviceCode must look like *384*12#")
            session = UssdSession(
                session_id=_string(body, "sessionId", required=False, limit=64)
                or f"ATUid_{uuid.uuid4().hex}",
                callback_url=_url(body, "callback_url"),
                service_code=code,
                phone=phone,
                network_code=str(body.get("networkCode") or network_code(phone)),
            )
            text = _string(body, "text", required=False, limit=1000)
            session.inputs = text.split("*") if text else []
            return Response(await hop(session, int(body.get("repeat", 0))))

        return await guarded(request, action)

    @post("/emulator/ussd/dial", status_code=200)
    async def ussd_dial(request: Request) -> Response:
        """A phone dials a code: a new session, its first hop (text ''). A code dialled with
        an extension (*384*12*3#) reaches AT as the shared code and text '3', as AT does."""

        async def action(body: dict[str, Any]) -> Response:
            phone = _phone(body, "phoneNumber")
            dialled = _string(body, "serviceCode", limit=40).replace(" ", "")
            if not _SERVICE_CODE.match(dialled):
                raise BadControlRequest("serviceCode must look like *384*12#")
            shared = _string(body, "shared_code", required=False, limit=40).replace(" ", "")
            inputs: list[str] = []
            code = dialled
            if shared and dialled != shared:
                if not dialled.startswith(shared[:-1] + "*"):
                    raise BadControlRequest("the dialled code does not extend shared_code")
                inputs = dialled[len(shared) : -1].split("*")
                code = shared
            session = UssdSession(
                session_id=f"ATUid_{uuid.uuid4().hex}",
                callback_url=_url(body, "callback_url"),
                service_code=code,
                phone=phone,
                network_code=str(body.get("networkCode") or network_code(phone)),
                inputs=inputs,
            )
            state.ussd_sessions[session.session_id] = session
            return Response(await hop(session))

        return await guarded(request, action)

    @post("/emulator/ussd/reply", status_code=200)
    async def ussd_reply(request: Request) -> Response:
        """The subscriber types `input` on the open session's screen."""

        async def action(body: dict[str, Any]) -> Response:
            session = state.ussd_sessions.get(_string(body, "sessionId", limit=64))
            if session is None:
                return _problem("no such USSD session", 404)
            if session.ended:
                return _problem("the session has ended", 409)
            typed = _string(body, "input", required=False, limit=200)
            session.inputs.append(typed)
            if len(session.text) > 1000:
                raise BadControlRequest("the session's text is longer than 1000 characters")
            return Response(await hop(session, int(body.get("repeat", 0))))

        return await guarded(request, action)

    @get("/emulator/ussd/{session_id:str}", sync_to_thread=False)
    def ussd_session(session_id: FromPath[str]) -> Response:
        session = state.ussd_sessions.get(session_id)
        if session is None:
            return _problem("no such USSD session", 404)
        return Response(asdict(session))

    # --- settings, log, health ------------------------------------------------------------

    @post("/emulator/settings", status_code=200)
    async def change_settings(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            if "delivery_delay" in body:
                state.delivery_delay = min(60.0, max(0.0, float(body["delivery_delay"])))
            return Response({"delivery_delay": state.delivery_delay})

        return await guarded(request, action)

    @get("/emulator/log", sync_to_thread=False)
    def read_log(
        kind: FromQuery[str | None] = None, since: FromQuery[int] = 0
    ) -> list[dict[str, Any]]:
        return [
            entry
            for entry in list(state.log)
            if entry["id"] > since and (kind is None or entry["kind"] == kind)
        ]

    @delete("/emulator/log", status_code=204, sync_to_thread=False)
    def clear_log() -> None:
        state.log.clear()

    @get("/emulator/health", sync_to_thread=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "time": time.time()}

    return [
        register_account,
        list_accounts,
        add_fault,
        clear_faults,
        outbox,
        clear_outbox,
        stats,
        set_outcome,
        clear_outcomes,
        inbound_sms,
        inbound_sent,
        ussd_raw,
        ussd_dial,
        ussd_reply,
        ussd_session,
        change_settings,
        read_log,
        clear_log,
        health,
    ]
