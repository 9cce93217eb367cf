"""Base controllers for an ISP's JSON API (the guards, security and reach every such
controller repeats, said once; a subclass names its `path` and `tags`), and the route
decorator of an action on one resource."""

from __future__ import annotations

from typing import Any

from kiunga.platform.auth.fence import FENCED_CALLERS_ALLOWED
from kiunga.platform.web.guards import requires_scopes, tenant_only
from litestar import Controller, post
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_200_OK


class TenantApiController(Controller):
    """Serves one ISP (no tenant: not found) to a bearer key or a signed-in staff member,
    over the whole ISP (fenced callers are turned away)."""

    guards = [tenant_only]
    security = [{"BearerAuth": []}]


class FencedApiController(TenantApiController):
    """As above, and a reseller's key or an agent may call it too: its routes confine what
    they read and change to the caller's fence."""

    opt = FENCED_CALLERS_ALLOWED


def action(path: str, *scopes: str, summary: str, **options: Any) -> HTTPRouteHandler:
    """A POST that acts on something that exists (activate it, revoke it, test it): it
    answers 200 with the result rather than Litestar's 201 for a POST, and needs `scopes`."""
    return post(
        path,
        guards=[requires_scopes(*scopes)],
        status_code=HTTP_200_OK,
        summary=summary,
        **options,
    )
