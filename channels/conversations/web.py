"""The inbound callbacks of the conversations, on any host, without session, CSRF or API
key (the secret path token names the ISP; Twilio also signs):

- POST /hooks/channels/{token}/ussd: Africa's Talking's USSD hop for an ISP's own code
  (or its extension on a shared code), answered `text/plain` `CON …` / `END …`;
- POST /hooks/ussd/{shared_token}/ussd: the platform's shared code (KIUNGA_USSD_SHARED_TOKEN;
  404 while unset), the ISP found by the extension that starts the text;
- POST /hooks/channels/{token}/sms: an inbound SMS (keywords, or free text to the
  conversation under way); the reply is queued as an SMS;
- POST /hooks/channels/{token}/whatsapp: Twilio's inbound WhatsApp message, its
  X-Twilio-Signature checked over the public URL first (403 and nothing stored when wrong).

Every callback is stored before it is parsed, keyed by the provider's id (USSD: the
session and the text so far), so a retry is answered as the first and runs nothing twice.
An unknown token, code or number gets a polite END (USSD) or a 404, and nothing is stored
in any ISP. An unexpected error ends a USSD session politely and is logged.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

import structlog
from kiunga.channels.conversations.converse import Reply, converse
from kiunga.channels.conversations.keywords import Command, amount_in, parse_command
from kiunga.channels.conversations.texts import translate
from kiunga.channels.messages.intake import (
    UnreadableForm,
    finish_callback,
    parse_form,
    read_body,
    store_callback,
    store_callback_on,
)
from kiunga.channels.messages.models import ChannelCallback, ChannelSettings, MessageChannel
from kiunga.channels.messages.outbound import queue_message, record_inbound
from kiunga.channels.messages.routing import ChannelRoutes, ChannelTarget
from kiunga.channels.messages.secrets import decrypt
from kiunga.integrations.twilio.signature import (
    SIGNATURE_HEADER,
    public_request_url,
    signature_valid,
)
from kiunga.platform.web.request_state import TENANT
from kiunga.platform.web.services import services_of
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from litestar import Controller, MediaType, Request, Response, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("kiunga.conversations")

HOOK_OPT = {"any_host": True, "exclude_from_csrf": True, "skip_session": True}
ROUTES_KEY = "channel_routes"
USSD_KIND = "africastalking.ussd"
SMS_KIND = "africastalking.sms"
WHATSAPP_KIND = "twilio.whatsapp"
MAX_FIELD = 200
MAX_USSD_TEXT = 500
MAX_MESSAGE = 4096
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _polite(key: str) -> str:
    # Nobody known yet: both languages, within one screen.
    return f"END {translate('en', key)}\n{translate('sw', key)}"


UNKNOWN_END = _polite("error.unknown_service")
ERROR_END = _polite("error.unexpected")


def channel_routes(request: Request) -> ChannelRoutes:
    state = request.app.state
    routes = state.get(ROUTES_KEY)
    if routes is None:
        services = services_of(request)
        routes = ChannelRoutes(services.database, services.settings.tenant_cache_seconds)
        state[ROUTES_KEY] = routes
    return routes


def _plain(text: str) -> Response:
    return Response(text, status_code=200, media_type=MediaType.TEXT)


def _for_log(request: Request, target: ChannelTarget) -> None:
    request.scope.setdefault("state", {})[TENANT] = TenantContext(
        target.tenant_id, target.slug, target.schema, target.slug, "active"
    )


def _field(form: dict[str, str], name: str, limit: int = MAX_FIELD) -> str:
    return form.get(name, "").strip()[:limit]


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _form(request: Request) -> tuple[bytes, dict[str, str]] | None:
    raw = await read_body(request)
    if raw is None:
        return None
    try:
        return raw, parse_form(raw)
    except UnreadableForm:
        return None


# ---------------------------------------------------------------- USSD


async def ussd_hop(request: Request, expected: ChannelTarget | None) -> Response:
    """One hop of a USSD session; `expected`: the ISP the path token named (None: the
    shared code's path, any ISP on it)."""
    read = await _form(request)
    if read is None:
        return _plain(UNKNOWN_END)
    raw, form = read
    session_id = _field(form, "sessionId", 100)
    text = form.get("text", "").strip()
    if not session_id or len(text) > MAX_USSD_TEXT:
        return _plain(UNKNOWN_END)
    routed = await channel_routes(request).ussd(_field(form, "serviceCode", 40), text)
    if routed is None or not routed.target.active:
        return _plain(UNKNOWN_END)
    target = routed.target
    if expected is not None and target.tenant_id != expected.tenant_id:
        return _plain(UNKNOWN_END)
    try:
        phone = normalise_phone(_field(form, "phoneNumber", 40))
    except InvalidPhone:
        return _plain(UNKNOWN_END)
    if routed.extension:
        # *384*12*3# arrives as *384*12# and text "3…": the extension is not an answer.
        text = text.split("*", 1)[1] if "*" in text else ""
    _for_log(request, target)
    services = services_of(request)
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    # One connection for the hop: its callback stored (committed at once), then the turn.
    # Its commits do not wait for the disk (see Database.tenant_engine): a subscriber is
    # waiting. A database crash may lose a hop just answered, whole: its stored callback
    # and what it did together (a ticket, a claim that leaves the payment unmatched, the
    # STK push asked for); never money counted twice or half a change.
    quick = services.database.tenant_engine(target.schema, durable=False)
    async with quick.connect() as connection:
        stored = await store_callback_on(
            connection,
            USSD_KIND,
            f"{session_id}:{text.count('*') + 1 if text else 0}:{digest}",
            raw,
            _source(request),
        )
        if stored.seen_before:
            return _plain(stored.answer or ERROR_END)

        async def answered(session: AsyncSession, reply: Reply) -> None:
            # The answer is stored in the turn's own transaction: a retry is answered with
            # exactly what the turn did, or (if it rolled back) finds it not done.
            await session.execute(
                update(ChannelCallback)
                .where(ChannelCallback.id == stored.id)
                .values(answer=reply.text, processed_at=func.now())
            )

        try:
            reply = await converse(
                services.database,
                services.redis,
                target.schema,
                channel="ussd",
                phone=phone,
                handle=session_id,
                text=text.rsplit("*", 1)[-1] if text else None,
                key=f"ussd:{stored.id}",
                network_code=_field(form, "networkCode", 8) or None,
                on_reply=answered,
                connection=connection,
            )
            answer = reply.text
        except Exception as error:
            log.exception("ussd hop failed", tenant=target.slug, callback_id=stored.id)
            await finish_callback(
                services.database, target.schema, stored.id, answer=ERROR_END, error=repr(error)
            )
            return _plain(ERROR_END)
    return _plain(answer)


# ---------------------------------------------------------------- SMS and WhatsApp


def keyword_turn(command: Command | None) -> dict:
    """How a keyword opens a conversation (converse's begin_at and data)."""
    if command is None:
        return {}
    begin: dict = {"language_hint": command.language}
    if command.action == "balance":
        return {**begin, "begin_at": "account"}
    if command.action == "pay":
        amount = amount_in(command.rest)
        if amount is None:
            return {**begin, "begin_at": "pay"}
        return {**begin, "begin_at": "pay_sent", "data": {"amount": amount}}
    if command.action == "buy":
        if not command.rest:
            return {**begin, "begin_at": "voucher"}
        return {**begin, "begin_at": "voucher_named", "data": {"wanted": command.rest[:60]}}
    if command.action == "ticket":
        if not command.rest:
            return {**begin, "begin_at": "problem"}
        data = {"category": "other", "problem_text": command.rest[:500]}
        return {**begin, "begin_at": "problem_done", "data": data}
    if command.action == "help":
        return {**begin, "begin_at": "help"}
    return {**begin, "begin_at": "offers_stop" if command.action == "stop" else "offers_start"}


async def chat_turn(
    request: Request,
    target: ChannelTarget,
    *,
    channel: MessageChannel,
    phone: str,
    text: str,
    provider_id: str,
    callback_id: int,
    link_id: str | None = None,
    network_code: str | None = None,
) -> Reply:
    """An inbound SMS or WhatsApp message: logged, answered by the conversation (a keyword
    starts afresh), the reply queued on the same channel — in one transaction."""
    services = services_of(request)
    command = parse_command(text)

    async def log_and_reply(session: AsyncSession, reply: Reply) -> None:
        await record_inbound(
            session,
            channel=channel,
            phone=phone,
            body=text,
            provider_id=provider_id,
            kind=command.action if command else "conversation",
            subscriber_id=reply.subscriber_id,
            link_id=link_id,
            network_code=network_code,
        )
        await queue_message(
            session,
            phone=phone,
            body=reply.text,
            kind="reply",
            channel=channel,
            subscriber_id=reply.subscriber_id,
            urgent=True,
            link_id=link_id,
            dedupe_key=f"reply:{channel.value}:{provider_id}",
            language=reply.language,
        )

    return await converse(
        services.database,
        services.redis,
        target.schema,
        channel=channel.value,
        phone=phone,
        handle=phone,
        text=text,
        key=f"{channel.value}:{callback_id}",
        network_code=network_code,
        fresh=command is not None,
        on_reply=log_and_reply,
        **keyword_turn(command),
    )


async def _chat(
    request: Request,
    target: ChannelTarget,
    kind: str,
    provider_id: str,
    raw: bytes,
    **turn,
) -> None:
    services = services_of(request)
    stored = await store_callback(
        services.database, target.schema, kind, provider_id, raw, _source(request)
    )
    if stored.seen_before:
        return
    try:
        reply = await chat_turn(
            request, target, provider_id=provider_id, callback_id=stored.id, **turn
        )
        await finish_callback(services.database, target.schema, stored.id, answer=reply.text)
    except Exception as error:
        log.exception("inbound message failed", tenant=target.slug, callback_id=stored.id)
        await finish_callback(services.database, target.schema, stored.id, error=repr(error))


async def _target(request: Request, token: str) -> ChannelTarget:
    target = await channel_routes(request).by_token(token)
    if target is None or not target.active:
        raise NotFoundException("Not found")
    _for_log(request, target)
    return target


async def sms_in(request: Request, token: str) -> Response:
    target = await _target(request, token)
    read = await _form(request)
    if read is None:
        return _plain("")
    raw, form = read
    provider_id = _field(form, "id", 64)
    try:
        phone = normalise_phone(_field(form, "from", 40))
    except InvalidPhone:
        phone = None
    if not provider_id or phone is None:
        log.warning("inbound sms without an id or a phone", tenant=target.slug)
        return _plain("")
    await _chat(
        request,
        target,
        SMS_KIND,
        provider_id,
        raw,
        channel=MessageChannel.SMS,
        phone=phone,
        text=form.get("text", "")[:MAX_MESSAGE],
        link_id=_field(form, "linkId", 64) or None,
        network_code=_field(form, "networkCode", 8) or None,
    )
    return _plain("")


def public_url(request: Request) -> str:
    """The address Twilio called: KIUNGA_PUBLIC_URL and the request's path and query (behind
    a proxy the internal address differs, and the signature is over the public one)."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_request_url(services_of(request).settings.public_url, request.url.path, query)


async def _auth_token(request: Request, target: ChannelTarget) -> str | None:
    async with services_of(request).database.tenant_session(target.schema) as session:
        encrypted = await session.scalar(select(ChannelSettings.twilio_auth_token_encrypted))
    if not encrypted:
        return None
    try:
        return decrypt(encrypted)
    except ValueError:
        return None


async def whatsapp_in(request: Request, token: str) -> Response:
    target = await _target(request, token)
    raw = await read_body(request)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    auth_token = await _auth_token(request, target)
    if raw is None or not signature or auth_token is None:
        raise PermissionDeniedException("Not signed")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        form = parse_form(raw)
    except (UnicodeDecodeError, UnreadableForm, ValueError):
        raise PermissionDeniedException("Not signed") from None
    if not signature_valid(auth_token, public_url(request), pairs, signature):
        log.warning("whatsapp callback with a wrong signature refused", tenant=target.slug)
        raise PermissionDeniedException("Wrong signature")
    provider_id = _field(form, "MessageSid", 64)
    sender = _field(form, "From", 60).removeprefix("whatsapp:")
    try:
        phone = normalise_phone(sender)
    except InvalidPhone:
        phone = None
    if provider_id and phone is not None:
        await _chat(
            request,
            target,
            WHATSAPP_KIND,
            provider_id,
            raw,
            channel=MessageChannel.WHATSAPP,
            phone=phone,
            text=form.get("Body", "")[:MAX_MESSAGE],
        )
    return Response(EMPTY_TWIML, status_code=200, media_type=MediaType.XML)


class ConversationHooksController(Controller):
    path = "/hooks"
    include_in_schema = False

    @post("/channels/{token:str}/ussd", opt=HOOK_OPT, status_code=200)
    async def ussd(self, request: Request, token: FromPath[str]) -> Response:
        target = await channel_routes(request).by_token(token)
        if target is None or not target.active:
            return _plain(UNKNOWN_END)
        return await ussd_hop(request, target)

    @post("/ussd/{shared:str}/ussd", opt=HOOK_OPT, status_code=200)
    async def shared_ussd(self, request: Request, shared: FromPath[str]) -> Response:
        configured = services_of(request).settings.ussd_shared_token
        if not configured or not hmac.compare_digest(shared.encode(), configured.encode()):
            raise NotFoundException("Not found")
        return await ussd_hop(request, None)

    @post("/channels/{token:str}/sms", opt=HOOK_OPT, status_code=200)
    async def sms(self, request: Request, token: FromPath[str]) -> Response:
        return await sms_in(request, token)

    @post("/channels/{token:str}/whatsapp", opt=HOOK_OPT, status_code=200)
    async def whatsapp(self, request: Request, token: FromPath[str]) -> Response:
        return await whatsapp_in(request, token)
