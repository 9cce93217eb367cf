"""Rendering console pages with what every page needs: who is signed in, for which ISP,
and the navigation of the surface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.request_state import (
    request_principal,
    request_surface,
    request_tenant,
)
from kiunga.platform.web.tenancy import Surface
from litestar import Request
from litestar.response import Template


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    # Shown to fenced staff (an agent sees only the pages of their own work); the first
    # such entry is where their `/` leads.
    fenced_staff: bool = False
    # Shown only when KIUNGA_ENV is development (a simulator, a tool of the demo).
    development_only: bool = False


PLATFORM_NAV = (
    NavItem("Tenants", "/platform"),
    NavItem("RADIUS clients", "/platform/radius-clients"),
)


def page(request: Request, template_name: str, *, status_code: int = 200, **context: Any):
    principal = request_principal(request)
    surface = request_surface(request)
    nav = request.app.state.console_nav if surface is Surface.TENANT else PLATFORM_NAV
    if isinstance(principal, StaffPrincipal) and not principal.fence.whole_isp:
        # Fenced staff (an agent) see only the entries their areas open to them.
        nav = tuple(item for item in nav if item.fenced_staff)
    common = {
        "staff": principal if isinstance(principal, StaffPrincipal) else None,
        "tenant": request_tenant(request),
        "surface": surface.value if surface else None,
        "nav": nav,
        "current_path": request.url.path,
    }
    return Template(template_name, context={**common, **context}, status_code=status_code)


def safe_next(target: str | None) -> str:
    """Only a path on this host: never an open redirect to somewhere else."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
