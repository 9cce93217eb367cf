"""Base controllers for an ISP's JSON API: the guards, security and reach every such
controller repeats, said once. A subclass names its `path` and `tags`."""

from __future__ import annotations

from kiunga.platform.auth.fence import FENCED_CALLERS_ALLOWED
from kiunga.platform.web.guards import tenant_only
from litestar import Controller


class TenantApiController(Controller):
    """Serves one ISP (no tenant: not found) to a bearer key or a signed-in staff member,
    over the whole ISP (fenced callers are turned away)."""

    guards = [tenant_only]
    security = [{"BearerAuth": []}]


class FencedApiController(TenantApiController):
    """As above, and a reseller's key or an agent may call it too: its routes confine what
    they read and change to the caller's fence."""

    opt = FENCED_CALLERS_ALLOWED
