"""What the routing middleware learned about a request, kept in the ASGI scope's state."""

from __future__ import annotations

from typing import Any

from kiunga.platform.auth.principals import Principal
from kiunga.platform.web.tenancy import Surface, TenantContext

REQUEST_ID = "kiunga.request_id"
STARTED_AT = "kiunga.started_at"
SURFACE = "kiunga.surface"
TENANT = "kiunga.tenant"


def _state(connection_or_scope: Any) -> dict:
    scope = getattr(connection_or_scope, "scope", connection_or_scope)
    return scope.setdefault("state", {})


def request_tenant(connection) -> TenantContext | None:
    return _state(connection).get(TENANT)


def request_surface(connection) -> Surface | None:
    return _state(connection).get(SURFACE)


def request_principal(connection) -> Principal | None:
    return connection.scope.get("user")


def request_id(connection) -> str | None:
    return _state(connection).get(REQUEST_ID)
