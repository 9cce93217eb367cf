"""Request middleware: find the tenant and the caller; CSRF that lets API keys through;
stamping every response with its request id.

Order (outermost first): metrics → session cookie → tenancy and authentication → CSRF.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from kiunga.platform.auth.principals import ApiKeyPrincipal, Principal
from kiunga.platform.auth.sessions import session_identity
from kiunga.platform.web.request_state import REQUEST_ID, STARTED_AT, SURFACE, TENANT
from kiunga.platform.web.services import WebServices
from kiunga.platform.web.tenancy import ResolvedHost, Surface, TenantContext
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.middleware import MiddlewareProtocol
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("kiunga.web")

# Routes with this opt answer on any host (load balancer probes come by address).
ANY_HOST = "any_host"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)
API_PREFIXES = ("/api/", "/platform/api/")
QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/static/")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# Pages run scripts from /static only (no inline script, no eval) and are never framed.
# Styles may be inline: pages and htmx set them, and they cannot run code.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# Swagger UI starts itself with an inline script; it still may not be framed.
DOCS_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"


def _unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": 'Bearer realm="kiunga"'})


def begin_request(scope: Scope) -> str:
    """Give the request its id (the caller's X-Request-ID if sane) and start its clock."""
    state = scope.setdefault("state", {})
    incoming = Headers.from_scope(scope).get("x-request-id", "")
    request_id = incoming if _REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
    state[REQUEST_ID] = request_id
    state[STARTED_AT] = time.perf_counter()
    return request_id


async def stamp_response(message: Message, scope: Scope) -> None:
    """A before_send hook: runs for every response, error pages included."""
    if message["type"] != "http.response.start":
        return
    state = scope.setdefault("state", {})
    request_id = state.get(REQUEST_ID) or begin_request(scope)
    headers = MutableScopeHeaders.from_message(message)
    headers["x-request-id"] = request_id
    path = scope.get("path", "")
    for name, value in _security_headers(scope, path).items():
        if name not in headers:
            headers[name] = value
    started = state.get(STARTED_AT)
    tenant = state.get(TENANT)
    level = log.debug if path.startswith(QUIET_PATHS) else log.info
    # Only the path: query strings and headers may carry secrets.
    level(
        "request",
        request_id=request_id,
        method=scope.get("method"),
        path=path,
        route=scope.get("path_template"),
        status=message["status"],
        duration_ms=round((time.perf_counter() - started) * 1000, 2) if started else None,
        tenant=tenant.slug if tenant else None,
        client=(scope.get("client") or ("-",))[0],
    )


def _security_headers(scope: Scope, path: str) -> dict[str, str]:
    wanted = dict(SECURITY_HEADERS)
    wanted["content-security-policy"] = DOCS_CSP if path.startswith("/docs") else PAGE_CSP
    app = scope.get("litestar_app")
    if app is not None and app.state.services.settings.is_production:
        wanted["strict-transport-security"] = HSTS
    return wanted


class TenancyMiddleware(MiddlewareProtocol):
    """Host → tenant (or the platform surface), then credentials → principal.

    Fails closed: an unknown host is 404, a disabled tenant 403, any Authorization header
    that is not a valid key for this host 401. A session cookie minted for another tenant
    or surface is ignored.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["user"] = None
        scope["auth"] = None
        if scope["type"] != ScopeType.HTTP or scope["route_handler"].opt.get(ANY_HOST):
            await self.app(scope, receive, send)
            return
        services: WebServices = scope["litestar_app"].state.services
        headers = Headers.from_scope(scope)
        resolved = await services.tenants.resolve_host(headers.get("host"))
        if resolved is None:
            raise NotFoundException("No ISP is served at this address")
        tenant = resolved.tenant
        _refuse_disabled(tenant)
        authorization = headers.get("authorization")
        if authorization is not None:
            principal, tenant = await _key_principal(services, resolved, authorization)
        else:
            principal = await _session_principal(services, scope, tenant)
        state = scope["state"]
        state[SURFACE] = resolved.surface
        state[TENANT] = tenant
        scope["user"] = principal
        scope["auth"] = principal
        with structlog.contextvars.bound_contextvars(tenant=tenant.slug if tenant else None):
            await self.app(scope, receive, send)


def _refuse_disabled(tenant: TenantContext | None) -> None:
    if tenant is not None and not tenant.is_active:
        raise PermissionDeniedException(f"The account of {tenant.name} is disabled")


async def _key_principal(
    services: WebServices, resolved: ResolvedHost, authorization: str
) -> tuple[ApiKeyPrincipal, TenantContext | None]:
    match = _BEARER.match(authorization)
    if match is None:
        raise _unauthorized("Use Authorization: Bearer <API key>")
    principal = await services.api_keys.authenticate(match.group(1))
    if principal is None:
        raise _unauthorized("Unknown, revoked or expired API key")
    tenant = resolved.tenant
    if resolved.surface is Surface.TENANT:
        # A key works only on its own tenant's hosts; a platform key on none of them.
        if tenant is None or principal.tenant_id != tenant.id:
            raise _unauthorized("This API key is not valid for this host")
    elif principal.tenant_id is not None:
        # On the bare base domain, a tenant key speaks for its own tenant: one API host
        # for integrators. The key, not the caller, names the tenant.
        tenant = await services.tenants.tenant_by_id(principal.tenant_id)
        if tenant is None:
            raise _unauthorized("This API key is not valid for this host")
        _refuse_disabled(tenant)
    return principal, tenant


async def _session_principal(
    services: WebServices, scope: Scope, tenant: TenantContext | None
) -> Principal | None:
    session = scope.get("session")
    identity = session_identity(session if isinstance(session, dict) else None)
    if identity is None:
        return None
    if identity.tenant_id != (tenant.id if tenant else None):
        return None
    return await services.staff_sessions.load(identity)


CSRF_COOKIE = "kiunga_csrf"


class BearerAwareCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, skipped for requests authenticated by an API key.

    A browser never attaches an Authorization header on its own, so such a request cannot
    be forged cross-site; TenancyMiddleware (which runs first) has already refused any
    Authorization header that is not a valid key, and ignores the session cookie then.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and _needs_no_csrf_check(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _needs_no_csrf_check(scope: Scope) -> bool:
    user = scope.get("user")
    if isinstance(user, ApiKeyPrincipal):
        return True
    # An API call with no credentials at all has no session to forge: let the route's
    # guard answer 401 (how to authenticate) rather than a CSRF 403.
    return user is None and scope.get("path", "").startswith(API_PREFIXES)
