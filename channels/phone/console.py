"""The console's Phone page (/phone), in development only: a phone simulator. Staff choose a
phone number (the demo's lapsed subscriber by default), dial the ISP's USSD code and answer
each screen, text the ISP or WhatsApp it, and read what came back, all through the local
emulators, so that Kiunga receives exactly what Africa's Talking and Twilio send.

Plain forms posted to the server (which calls the emulators) and a redirect back to the page:
it works without JavaScript. Outside development (KIUNGA_ENV) the page does not exist and is
not in the navigation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.phone import emulators
from kiunga.channels.phone.emulators import EmulatorProblem, Simulator
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import staff_only, tenant_only
from kiunga.tenants.mpesa.demo import DEMO_ACCOUNT, DEMO_PHONE
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import URLEncodedBody
from litestar.response import Redirect
from sqlalchemy import select

PATH = "/phone"
MAX_TEXT = 1000
MAX_USSD_INPUT = 160
MAX_NOTICE = 300
_SESSION_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_DIAL_CODE = re.compile(r"^\*[0-9*]{1,38}#$")


async def development_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The simulator exists in development (KIUNGA_ENV=development) only."""
    if connection.app.state.services.settings.environment != "development":
        raise NotFoundException("Not found")


@dataclass
class DialForm:
    phone: str = ""
    code: str = ""


@dataclass
class ReplyForm:
    phone: str = ""
    session: str = ""
    input: str = ""


@dataclass
class MessageForm:
    phone: str = ""
    text: str = ""


def _phone_or_none(raw: str | None) -> str | None:
    if not raw or len(raw) > 32:
        return None
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return None


async def _default_phone(session) -> str:
    """The demo's lapsed subscriber's phone (the demo story starts there)."""
    phone = await session.scalar(
        select(SubscriberPhone.phone)
        .join(Subscriber, Subscriber.id == SubscriberPhone.subscriber_id)
        .where(Subscriber.account_number == DEMO_ACCOUNT)
        .order_by(SubscriberPhone.is_primary.desc(), SubscriberPhone.id)
        .limit(1)
    )
    return phone or DEMO_PHONE


async def _simulator(request: Request, session) -> Simulator:
    row = await session.get(ChannelSettings, 1)
    return Simulator.of(row, request.app.state.services.settings.public_url)


def _back(phone: str, *, session_id: str | None = None, notice: str | None = None) -> Redirect:
    query = {"phone": phone}
    if session_id:
        query["session"] = session_id
    if notice:
        query["notice"] = notice[:MAX_NOTICE]
    return Redirect(f"{PATH}?{urlencode(query)}", status_code=303)


def _delivery_notice(what: str, answer: dict) -> str:
    status = answer.get("status")
    if answer.get("error"):
        return f"{what}: Kiunga did not answer ({answer['error']})"
    if status is not None and status >= 400:
        return f"{what}: Kiunga answered HTTP {status}"
    return f"{what} sent"


class PhonePageController(Controller):
    path = PATH
    include_in_schema = False
    guards = [tenant_only, staff_only, development_only]

    @get()
    async def phone_page(self, request: Request, tenant_session: TenantSession) -> Response:
        simulator = await _simulator(request, tenant_session)
        phone = _phone_or_none(request.query_params.get("phone")) or await _default_phone(
            tenant_session
        )
        session_id = request.query_params.get("session") or ""
        ussd = None
        if _SESSION_ID.match(session_id):
            found = await emulators.ussd_session(simulator, session_id)
            if found is not None and found.get("phone") == phone:
                ussd = found
        entries, problems = await emulators.inbox(simulator, phone)
        notice = (request.query_params.get("notice") or "")[:MAX_NOTICE]
        last_screen = ussd["screens"][-1] if ussd and ussd.get("screens") else None
        return page(
            request,
            "phone/index.html",
            phone=phone,
            simulator=simulator,
            ussd=ussd,
            last_screen=last_screen,
            entries=entries,
            problems=[*simulator.problems, *problems],
            notice=notice.replace("\x00", ""),
        )

    @post("/ussd/dial")
    async def dial(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[DialForm]
    ) -> Response:
        phone = _phone_or_none(data.phone)
        if phone is None:
            return _back(DEMO_PHONE, notice="Not a phone number")
        code = "".join(data.code.split())
        if not _DIAL_CODE.match(code):
            return _back(phone, notice="A USSD code looks like *483*57#")
        simulator = await _simulator(request, tenant_session)
        try:
            answer = await emulators.dial(simulator, phone, code)
        except EmulatorProblem as problem:
            return _back(phone, notice=f"USSD: {problem}")
        # The session's screen (or what went wrong with it) is on the page.
        return _back(phone, session_id=answer["session_id"])

    @post("/ussd/reply")
    async def reply(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[ReplyForm]
    ) -> Response:
        phone = _phone_or_none(data.phone) or DEMO_PHONE
        if not _SESSION_ID.match(data.session):
            return _back(phone, notice="That USSD session is not known")
        typed = data.input.strip()
        if len(typed) > MAX_USSD_INPUT or "\x00" in typed:
            return _back(phone, session_id=data.session, notice="That reply is too long")
        simulator = await _simulator(request, tenant_session)
        try:
            answer = await emulators.reply(simulator, data.session, typed)
        except EmulatorProblem as problem:
            return _back(phone, session_id=data.session, notice=f"USSD: {problem}")
        return _back(phone, session_id=answer.get("session_id") or data.session)

    @post("/sms")
    async def text(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[MessageForm]
    ) -> Response:
        phone = _phone_or_none(data.phone) or DEMO_PHONE
        message = data.text.strip()
        if not message or len(message) > MAX_TEXT or "\x00" in message:
            return _back(phone, notice=f"An SMS is 1 to {MAX_TEXT} characters")
        simulator = await _simulator(request, tenant_session)
        try:
            answer = await emulators.text(simulator, phone, message)
        except EmulatorProblem as problem:
            return _back(phone, notice=f"SMS: {problem}")
        return _back(phone, notice=_delivery_notice("SMS", answer))

    @post("/whatsapp")
    async def whatsapp(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[MessageForm]
    ) -> Response:
        phone = _phone_or_none(data.phone) or DEMO_PHONE
        message = data.text.strip()
        if not message or len(message) > MAX_TEXT or "\x00" in message:
            return _back(phone, notice=f"A WhatsApp message is 1 to {MAX_TEXT} characters")
        simulator = await _simulator(request, tenant_session)
        name = await tenant_session.scalar(
            select(Subscriber.name)
            .join(SubscriberPhone, SubscriberPhone.subscriber_id == Subscriber.id)
            .where(SubscriberPhone.phone == phone)
            .limit(1)
        )
        try:
            answer = await emulators.whatsapp(simulator, phone, message, name or "Phone page")
        except EmulatorProblem as problem:
            return _back(phone, notice=f"WhatsApp: {problem}")
        return _back(phone, notice=_delivery_notice("WhatsApp message", answer))
