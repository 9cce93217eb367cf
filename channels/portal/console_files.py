"""Downloads on the console's captive portal page: the router's hotspot pages and the
walled-garden lines, generated for this ISP's host."""

from __future__ import annotations

import asyncio
import socket

from kiunga.channels.portal import router_files
from kiunga.channels.portal.settings import portal_look
from kiunga.channels.portal.settings_console import owners_and_admins
from kiunga.platform.web.dependencies import CurrentTenant, Services, TenantSession
from kiunga.platform.web.guards import staff_only, tenant_only
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

RESOLVE_TIMEOUT_SECONDS = 2.0


async def _addresses(host: str) -> list[str]:
    """The portal host's IPv4 addresses as this server sees them (none if unresolved)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, 443, family=socket.AF_INET, type=socket.SOCK_STREAM),
            RESOLVE_TIMEOUT_SECONDS,
        )
    except (OSError, TimeoutError):
        return []
    return sorted({info[4][0] for info in infos if not info[4][0].startswith("127.")})


async def router_file(request: Request, services, look, name: str) -> Response:
    """One of the router's hotspot files (or the walled-garden lines) for this ISP's host,
    as the request reached it; 404 for any other name."""
    netloc = request.url.netloc
    hostname = request.url.hostname or netloc
    scheme = "https" if services.settings.is_production else request.url.scheme
    colour = look.primary_colour
    if name == "login.html":
        body = router_files.login_html(netloc, look.title, scheme=scheme, colour=colour)
    elif name in ("status.html", "alogin.html"):
        body = router_files.status_html(netloc, look.title, scheme=scheme, colour=colour)
    elif name == "walled-garden.rsc":
        body = router_files.walled_garden(hostname, await _addresses(hostname))
    else:
        raise NotFoundException("No such file")
    media_type = "text/plain" if name.endswith(".rsc") else "text/html"
    return Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


class PortalRouterFilesController(Controller):
    path = "/settings/portal/files"
    include_in_schema = False
    guards = [tenant_only, staff_only, owners_and_admins]

    @get("/{name:str}")
    async def download(
        self,
        request: Request,
        tenant: CurrentTenant,
        tenant_session: TenantSession,
        services: Services,
        name: FromPath[str],
    ) -> Response:
        look = await portal_look(tenant_session, tenant.name)
        return await router_file(request, services, look, name)
