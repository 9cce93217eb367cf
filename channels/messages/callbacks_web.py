"""The providers' reports on messages sent: POST /hooks/channels/{token}/delivery (Africa's
Talking's SMS delivery reports) and POST /hooks/channels/{token}/whatsapp/status (Twilio's
status callbacks), on any host, without session, CSRF or API key: the secret token in the
path names the ISP (ChannelRoutes.by_token).

- An unknown token is 404 and stores nothing anywhere.
- Twilio signs its callbacks: X-Twilio-Signature is checked with twilio's RequestValidator
  over the exact public URL (KIUNGA_PUBLIC_URL and the path, as Twilio called it behind any
  proxy) and the ISP's auth token, before anything is stored; wrong or missing → 403.
- Africa's Talking signs nothing: the token is all there is.
- Then the callback is stored as it came (kiunga.channels.messages.intake), keyed by the
  provider's id and the status it reports, so a retry is a repeat; then parsed and applied
  to the message (the messaging part's receipts), in the same tenant transaction. A body
  over the cap is 413, a body that is not a clean form (NUL bytes, not UTF-8) or lacks a
  required field 400 (kept with why): never a 500.
- A disabled ISP's reports are stored and applied like any other (see `_store_parse_apply`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import parse_qsl

import structlog
from kiunga.channels.messages import receipts, settings
from kiunga.channels.messages.intake import (
    MAX_FIELDS,
    UnreadableForm,
    note_callback,
    parse_form,
    read_body,
    store_callback_in,
)
from kiunga.channels.messages.routing import ChannelRoutes, ChannelTarget
from kiunga.integrations.africastalking.forms import parse_delivery_report
from kiunga.integrations.twilio.forms import parse_status_callback
from kiunga.integrations.twilio.signature import (
    SIGNATURE_HEADER,
    public_request_url,
    signature_valid,
)
from kiunga.platform.web.request_state import TENANT
from kiunga.platform.web.services import services_of
from kiunga.platform.web.tenancy import TenantContext
from litestar import Controller, MediaType, Request, Response, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

log = structlog.get_logger("kiunga.channels")

HOOK_OPT = {"any_host": True, "exclude_from_csrf": True, "skip_session": True}
ROUTES_KEY = "channel_routes"
DELIVERY_KIND = "africastalking.delivery"
STATUS_KIND = "twilio.status"
# A delivery report or a status callback is a few hundred bytes.
MAX_REPORT_BYTES = 8 * 1024


def channel_routes(request: Request) -> ChannelRoutes:
    """The process's ChannelRoutes, one cache for every channel callback route; a new
    token or USSD code calls `forget()` on it."""
    state = request.app.state
    routes = state.get(ROUTES_KEY)
    if routes is None:
        services = services_of(request)
        routes = ChannelRoutes(services.database, services.settings.tenant_cache_seconds)
        state[ROUTES_KEY] = routes
    return routes


async def isp_of(request: Request, token: str) -> ChannelTarget:
    """The ISP the token names (404 when none), noted for the request's log line."""
    target = await channel_routes(request).by_token(token)
    if target is None:
        raise NotFoundException("Not found")
    request.scope.setdefault("state", {})[TENANT] = TenantContext(
        target.tenant_id,
        target.slug,
        target.schema,
        target.slug,
        "active" if target.active else "disabled",
    )
    return target


def _answer(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type=MediaType.TEXT)


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:32]


def _provider_key(form: dict[str, str], id_field: str, status_field: str, raw: bytes) -> str:
    """The provider's id and the status it reports: the same report sent again is a
    repeat, a later status of the same message is not. Without an id, the body's digest."""
    ident = form.get(id_field, "").strip()
    if not ident:
        return "body:" + _digest(raw)
    return f"{ident[:120]}:{form.get(status_field, '').strip()[:40]}"


async def _store_parse_apply(
    request: Request,
    target: ChannelTarget,
    kind: str,
    raw: bytes,
    form: dict[str, str],
    key: str,
    parse: Callable,
    apply: Callable,
) -> Response:
    """Store the report, parse it, apply it: one tenant transaction, so that a report costs
    one connection and one commit (the outbound benchmark's ten thousand reports came
    behind by tens of seconds when each took three). The row is written first and commits
    with what it did; a report that cannot be parsed commits with its error (400); one
    whose applying fails is stored again with why in a transaction of its own (200: a
    person looks at it, and a retry of it by the provider is applied afresh).

    A disabled ISP's reports are applied too: they are facts about messages already sent,
    and change nothing but those messages' log entries. Holding them back would leave a
    message in doubt that its report had settled, to be sent a second time once the ISP is
    enabled again."""
    database = services_of(request).database
    source = request.client.host if request.client else None
    try:
        async with database.tenant_session(target.schema) as session, session.begin():
            stored = await store_callback_in(session, kind, key, raw, source)
            if stored.seen_before and stored.processed:
                return _answer("OK")
            try:
                parsed = parse(form)
            except ValueError as error:  # the form parsers' FormError
                await note_callback(session, stored.id, error=str(error))
                log.warning(
                    "channel report refused", tenant=target.slug, kind=kind, error=str(error)
                )
                return _answer(f"Bad request: {error}", 400)
            await apply(session, parsed)
            if stored.seen_before:  # a retry of one kept unapplied: applied now
                await note_callback(session, stored.id, error=None)
    except Exception as error:
        log.exception("channel report not applied, kept", tenant=target.slug, kind=kind)
        async with database.tenant_session(target.schema) as session, session.begin():
            stored = await store_callback_in(
                session, kind, key, raw, source, error=f"not applied: {error!r}"
            )
            if stored.seen_before:
                await note_callback(session, stored.id, error=f"not applied: {error!r}")
    return _answer("OK")


async def _unreadable(request, target, kind: str, raw: bytes, error: UnreadableForm) -> Response:
    """Kept with its error (once, by its digest) and refused: a provider's own report is
    never like this, so it is looked at rather than retried into the log."""
    database = services_of(request).database
    source = request.client.host if request.client else None
    async with database.tenant_session(target.schema) as session, session.begin():
        await store_callback_in(
            session, kind, "unreadable:" + _digest(raw), raw, source, error=str(error)
        )
    log.warning("channel report unreadable", tenant=target.slug, kind=kind, error=str(error))
    return _answer(f"Bad request: {error}", 400)


def _too_large(target: ChannelTarget, kind: str, request: Request) -> Response:
    log.warning(
        "channel report over the size cap refused",
        tenant=target.slug,
        kind=kind,
        cap=MAX_REPORT_BYTES,
        declared=request.headers.get("content-length"),
    )
    return _answer("Request body too large", 413)


# --- Twilio's signature --------------------------------------------------------------------


def signed_url(request: Request) -> str:
    """The URL Twilio called, as it knows it: the public address and the exact path (and
    query), whatever host and scheme the proxy in front of us passed on."""
    return public_request_url(settings.public_url(), request.url.path, request.url.query or "")


async def signature_checked(request: Request, target: ChannelTarget, raw: bytes) -> bool:
    """X-Twilio-Signature over the public URL and every field of the form, with the ISP's
    auth token (none set: nothing can be Twilio's)."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return False
    database = services_of(request).database
    async with database.tenant_session(target.schema) as session:
        auth_token = settings.twilio_auth_token(await settings.settings_row(session))
    if auth_token is None:
        return False
    pairs = parse_qsl(
        raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS
    )
    return signature_valid(auth_token, signed_url(request), pairs, signature)


# --- the routes ----------------------------------------------------------------------------


class ChannelReportsController(Controller):
    path = settings.HOOK_PREFIX
    include_in_schema = False

    @post("/{token:str}/delivery", opt=HOOK_OPT, status_code=200)
    async def delivery_report(self, request: Request, token: FromPath[str]) -> Response:
        target = await isp_of(request, token)
        raw = await read_body(request, MAX_REPORT_BYTES)
        if raw is None:
            return _too_large(target, DELIVERY_KIND, request)
        try:
            form = parse_form(raw)
        except UnreadableForm as error:
            return await _unreadable(request, target, DELIVERY_KIND, raw, error)
        key = _provider_key(form, "id", "status", raw)
        return await _store_parse_apply(
            request, target, DELIVERY_KIND, raw, form, key,
            parse_delivery_report, receipts.apply_delivery_report,
        )  # fmt: skip

    @post("/{token:str}/whatsapp/status", opt=HOOK_OPT, status_code=200)
    async def whatsapp_status(self, request: Request, token: FromPath[str]) -> Response:
        target = await isp_of(request, token)
        raw = await read_body(request, MAX_REPORT_BYTES)
        if raw is None:
            return _too_large(target, STATUS_KIND, request)
        try:
            form = parse_form(raw)
        except UnreadableForm as error:
            # Not stored: unsigned bytes could be anyone's, and a form that cannot be read
            # cannot be checked against the signature.
            log.warning("twilio status callback unreadable", tenant=target.slug, error=str(error))
            return _answer(f"Bad request: {error}", 400)
        if not await signature_checked(request, target, raw):
            log.warning("twilio status callback with a wrong signature", tenant=target.slug)
            return _answer("Forbidden", 403)
        key = _provider_key(form, "MessageSid", "MessageStatus", raw)
        return await _store_parse_apply(
            request, target, STATUS_KIND, raw, form, key,
            parse_status_callback, receipts.apply_whatsapp_status,
        )  # fmt: skip
