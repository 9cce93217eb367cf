"""Daraja's callbacks: POST /hooks/daraja/{token}/stk | c2b/validation | c2b/confirmation |
result | timeout, on any host, without session, CSRF or API key: the secret token in the
path is what names the ISP (see routing). An unknown token is 404 and stores nothing; a
disabled ISP's callback is stored unprocessed and answered so that Daraja stops; a body
over 64 KB is answered 413 (in Daraja's shape) and logged, not stored."""

from __future__ import annotations

import structlog
from kiunga.integrations.mpesa.callbacks import C2B_OTHER_ERROR, c2b_reject
from kiunga.platform.web.request_state import TENANT
from kiunga.platform.web.services import services_of
from kiunga.platform.web.tenancy import TenantContext
from kiunga.tenants.mpesa.config import HOOK_PREFIX, source_allowed
from kiunga.tenants.mpesa.intake import MAX_BODY_BYTES, handle_callback, hold_callback
from kiunga.tenants.mpesa.models import CallbackKind
from kiunga.tenants.mpesa.routing import CallbackRoutes
from litestar import Controller, MediaType, Request, Response, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

log = structlog.get_logger("kiunga.mpesa")

HOOK_OPT = {"any_host": True, "exclude_from_csrf": True, "skip_session": True}
ROUTES_KEY = "mpesa_callback_routes"


def callback_routes(request: Request) -> CallbackRoutes:
    state = request.app.state
    routes = state.get(ROUTES_KEY)
    if routes is None:
        services = services_of(request)
        routes = CallbackRoutes(services.database, services.settings.tenant_cache_seconds)
        state[ROUTES_KEY] = routes
    return routes


async def _body_within_cap(request: Request) -> bytes | None:
    """The body, or None when it is over MAX_BODY_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large_answer(kind: CallbackKind) -> dict:
    if kind in (CallbackKind.C2B_VALIDATION, CallbackKind.C2B_CONFIRMATION):
        return c2b_reject(C2B_OTHER_ERROR, "Rejected: body too large")
    return {"ResultCode": 1, "ResultDesc": "Rejected: body too large"}


async def receive(request: Request, token: str, kind: CallbackKind) -> Response:
    target = await callback_routes(request).resolve(token)
    if target is None:
        raise NotFoundException("Not found")
    source = request.client.host if request.client else None
    if not source_allowed(target.allowed_sources, source):
        log.warning("mpesa callback from a refused address", tenant=target.slug, source=source)
        raise PermissionDeniedException("Not allowed from this address")
    # For the request log line: which ISP this was for.
    request.scope.setdefault("state", {})[TENANT] = TenantContext(
        target.tenant_id,
        target.slug,
        target.schema,
        target.slug,
        "active" if target.active else "disabled",
    )
    raw = await _body_within_cap(request)
    if raw is None:
        log.warning(
            "mpesa callback over the size cap refused",
            tenant=target.slug,
            kind=kind.value,
            cap=MAX_BODY_BYTES,
            declared=request.headers.get("content-length"),
        )
        return Response(_too_large_answer(kind), status_code=413, media_type=MediaType.JSON)
    database = services_of(request).database
    if not target.active:
        # The money moved at Safaricom whatever the ISP's state: a 404 would only make
        # Daraja retry and then drop it. Keep it for when the ISP works again.
        answer = await hold_callback(database, target.schema, kind, raw, source)
        log.warning("mpesa callback for a disabled ISP held", tenant=target.slug, kind=kind.value)
        return Response(answer, status_code=200, media_type=MediaType.JSON)
    handled = await handle_callback(database, target.schema, kind, raw, source)
    if handled.flag:
        log.warning(
            "mpesa callback flagged", tenant=target.slug, kind=kind.value, flag=handled.flag
        )
    return Response(handled.answer, status_code=200, media_type=MediaType.JSON)


class DarajaCallbackController(Controller):
    path = HOOK_PREFIX
    include_in_schema = False

    @post("/{token:str}/stk", opt=HOOK_OPT, status_code=200)
    async def stk(self, request: Request, token: FromPath[str]) -> Response:
        return await receive(request, token, CallbackKind.STK)

    @post("/{token:str}/c2b/validation", opt=HOOK_OPT, status_code=200)
    async def c2b_validation(self, request: Request, token: FromPath[str]) -> Response:
        return await receive(request, token, CallbackKind.C2B_VALIDATION)

    @post("/{token:str}/c2b/confirmation", opt=HOOK_OPT, status_code=200)
    async def c2b_confirmation(self, request: Request, token: FromPath[str]) -> Response:
        return await receive(request, token, CallbackKind.C2B_CONFIRMATION)

    @post("/{token:str}/result", opt=HOOK_OPT, status_code=200)
    async def result(self, request: Request, token: FromPath[str]) -> Response:
        return await receive(request, token, CallbackKind.RESULT)

    @post("/{token:str}/timeout", opt=HOOK_OPT, status_code=200)
    async def timeout(self, request: Request, token: FromPath[str]) -> Response:
        return await receive(request, token, CallbackKind.RESULT)
