"""Route guards: which surface a route lives on, and what a caller must hold to use it.

Every guard is `async def` though none awaits: Litestar runs a plain function guard in a
thread-pool worker, a thread hop on every request for a check of a few attribute reads.
"""

from __future__ import annotations

from kiunga.platform.auth.fence import Reach, fence_of, reach_of
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.errors import LoginRequired
from kiunga.platform.web.request_state import (
    request_principal,
    request_surface,
    request_tenant,
)
from kiunga.platform.web.tenancy import Surface
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard


async def tenant_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The route serves one ISP; without a tenant there is nothing here."""
    if request_tenant(connection) is None:
        raise NotFoundException("Not found")


async def platform_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The route is the platform's own, on the bare base domain, never an ISP's host."""
    if request_surface(connection) is not Surface.PLATFORM or request_tenant(connection):
        raise NotFoundException("Not found")


async def staff_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A console page: a signed-in staff member, else off to /login."""
    if not isinstance(request_principal(connection), StaffPrincipal):
        raise LoginRequired("Sign in to continue")


def requires_scopes(*scopes: str) -> Guard:
    needed = frozenset(scopes)

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal = request_principal(connection)
        if principal is None:
            raise NotAuthorizedException(
                "Send an API key (Authorization: Bearer …) or sign in",
                headers={"WWW-Authenticate": 'Bearer realm="kiunga"'},
            )
        missing = needed - principal.scopes
        if missing:
            raise PermissionDeniedException(f"Missing scope: {', '.join(sorted(missing))}")

    guard.__name__ = f"requires_scopes({', '.join(sorted(needed))})"
    # Read back by the fence's checks: which scopes the routes open to fenced callers ask for.
    guard.required_scopes = needed  # type: ignore[attr-defined]
    return guard


API_PATH_PREFIX = "/api/"


async def fence_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Turn a fenced caller (a reseller's key, an agent) away from an API route that covers
    the whole ISP. Installed once for the whole app, so a new route is closed to fenced
    callers until it declares `Reach.FENCED` and confines what it does."""
    if not connection.scope["path"].startswith(API_PATH_PREFIX):
        return
    if fence_of(request_principal(connection)) is None:
        return
    if reach_of(handler.opt) is not Reach.FENCED:
        raise PermissionDeniedException(
            "This credential is confined to one reseller; this endpoint covers the whole ISP"
        )
