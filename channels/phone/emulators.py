"""The Phone page's side of the emulators: what the ISP's channel settings say about where the
Africa's Talking and Twilio emulators are and where they should POST, and the few calls the
page makes to their control endpoints (a USSD dial and reply, an SMS, a WhatsApp message,
and what each emulator holds for one phone).

Everything goes through the emulators so that Kiunga receives exactly what the providers
send: AT's form encoding for USSD and SMS, Twilio's signed form for WhatsApp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from kiunga.channels.messages import secrets
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.phone.demo import CallbackUrls

# A USSD hop waits for Kiunga's answer as AT does (it gives up after about 15 s).
TIMEOUT = httpx.Timeout(20.0, connect=3.0)
DEFAULT_SHORTCODE = "20880"


class EmulatorProblem(Exception):
    """An emulator did not answer, or refused what the page asked: said on the page."""


@dataclass(frozen=True)
class Simulator:
    """What the page needs from the ISP's channel settings."""

    at_url: str | None
    twilio_url: str | None
    callbacks: CallbackUrls | None
    # The code a subscriber dials (the shared code with the ISP's extension when it has one),
    # and the shared code AT reports then.
    dial_code: str | None
    shared_code: str | None
    sms_to: str
    whatsapp_from: str | None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, row: ChannelSettings | None, public_url: str) -> Simulator:
        if row is None:
            unset = "This ISP has no channel settings yet (kiunga up sets the demo ISP's)."
            return cls(None, None, None, None, None, DEFAULT_SHORTCODE, None, [unset])
        problems: list[str] = []
        callbacks = None
        if row.callback_token_encrypted:
            try:
                token = secrets.decrypt(row.callback_token_encrypted)
                callbacks = CallbackUrls.of(public_url, token)
            except ValueError:
                problems.append("The callback token was stored under another secret key.")
        else:
            problems.append("The ISP has no channel callback address yet.")
        code, extension = row.ussd_service_code, row.ussd_extension
        dial_code = shared_code = None
        if code:
            if extension:
                dial_code, shared_code = f"{code[:-1]}*{extension}#", code
            else:
                dial_code = code
        return cls(
            at_url=(row.at_base_url or "").rstrip("/") or None,
            twilio_url=(row.twilio_base_url or "").rstrip("/") or None,
            callbacks=callbacks,
            dial_code=dial_code,
            shared_code=shared_code,
            sms_to=row.at_shortcode or row.at_sender_id or DEFAULT_SHORTCODE,
            whatsapp_from=row.whatsapp_from,
            problems=problems,
        )


async def _call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            answer = await http.request(method, url, json=body)
    except httpx.HTTPError as error:
        raise EmulatorProblem(
            f"{url.split('/emulator')[0]} did not answer ({type(error).__name__})"
        ) from None
    try:
        data = answer.json()
    except ValueError:
        raise EmulatorProblem(f"{url} answered HTTP {answer.status_code}, not JSON") from None
    if answer.status_code >= 400:
        reason = data.get("error") if isinstance(data, dict) else None
        raise EmulatorProblem(reason or f"{url} answered HTTP {answer.status_code}")
    return data


def _need(value: str | None, what: str) -> str:
    if not value:
        raise EmulatorProblem(f"no {what} in this ISP's channel settings")
    return value


async def dial(simulator: Simulator, phone: str, code: str) -> dict[str, Any]:
    callbacks = simulator.callbacks
    if callbacks is None:
        raise EmulatorProblem("no callback address for this ISP")
    body: dict[str, Any] = {
        "callback_url": callbacks.ussd,
        "serviceCode": code,
        "phoneNumber": phone,
    }
    if simulator.shared_code:
        body["shared_code"] = simulator.shared_code
    return await _call("POST", f"{_need(simulator.at_url, 'AT address')}/emulator/ussd/dial", body)


async def reply(simulator: Simulator, session_id: str, typed: str) -> dict[str, Any]:
    url = f"{_need(simulator.at_url, 'AT address')}/emulator/ussd/reply"
    return await _call("POST", url, {"sessionId": session_id, "input": typed})


async def ussd_session(simulator: Simulator, session_id: str) -> dict[str, Any] | None:
    if not simulator.at_url:
        return None
    try:
        return await _call("GET", f"{simulator.at_url}/emulator/ussd/{session_id}")
    except EmulatorProblem:
        return None


async def text(simulator: Simulator, phone: str, message: str) -> dict[str, Any]:
    callbacks = simulator.callbacks
    if callbacks is None:
        raise EmulatorProblem("no callback address for this ISP")
    url = f"{_need(simulator.at_url, 'AT address')}/emulator/sms/inbound"
    body = {"callback_url": callbacks.sms, "from": phone, "to": simulator.sms_to, "text": message}
    return await _call("POST", url, body)


async def whatsapp(simulator: Simulator, phone: str, message: str, profile: str) -> dict[str, Any]:
    callbacks = simulator.callbacks
    if callbacks is None:
        raise EmulatorProblem("no callback address for this ISP")
    url = f"{_need(simulator.twilio_url, 'Twilio address')}/emulator/whatsapp/inbound"
    body = {
        "webhook_url": callbacks.whatsapp,
        "from": phone,
        "to": _need(simulator.whatsapp_from, "WhatsApp sender"),
        "body": message,
        "profile_name": profile,
    }
    return await _call("POST", url, body)


@dataclass(frozen=True)
class InboxEntry:
    channel: str  # SMS | WhatsApp
    direction: str  # in (the phone sent it) | out (Kiunga sent it)
    body: str
    at: datetime | None
    status: str | None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def inbox(simulator: Simulator, phone: str) -> tuple[list[InboxEntry], list[str]]:
    """Every message between the phone and the ISP the emulators saw, newest first, and what
    could not be read."""
    entries: list[InboxEntry] = []
    problems: list[str] = []
    query = phone.replace("+", "%2B")
    if simulator.at_url:
        try:
            for sms in await _call("GET", f"{simulator.at_url}/emulator/sms/outbox?phone={query}"):
                status = sms.get("delivery_status") or "sent"
                entries.append(
                    InboxEntry("SMS", "out", sms["message"], _moment(sms["accepted_at"]), status)
                )
            for sms in await _call("GET", f"{simulator.at_url}/emulator/sms/inbound?phone={query}"):
                entries.append(InboxEntry("SMS", "in", sms["text"], _moment(sms["date"]), None))
        except EmulatorProblem as problem:
            problems.append(f"SMS: {problem}")
    if simulator.twilio_url:
        try:
            url = f"{simulator.twilio_url}/emulator/whatsapp/outbox?phone={query}"
            for message in await _call("GET", url):
                entries.append(
                    InboxEntry(
                        "WhatsApp",
                        "out",
                        message["body"],
                        _moment(message["created_at"]),
                        message["status"],
                    )
                )
            url = f"{simulator.twilio_url}/emulator/whatsapp/inbound?phone={query}"
            for message in await _call("GET", url):
                entries.append(
                    InboxEntry(
                        "WhatsApp", "in", message["Body"], _moment(message.get("received_at")), None
                    )
                )
        except EmulatorProblem as problem:
            problems.append(f"WhatsApp: {problem}")
    oldest = datetime.min.replace(tzinfo=UTC)
    entries.sort(key=lambda entry: entry.at or oldest, reverse=True)
    return entries[:100], problems
