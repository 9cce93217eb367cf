"""`/`: an ISP's dashboard on its own host; on the base domain, the way to the platform."""

from __future__ import annotations

from kiunga.platform.auth.fence import fence_of
from kiunga.platform.models import ApiKey, TenantMembership
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import Services
from kiunga.platform.web.guards import staff_only
from kiunga.platform.web.request_state import request_tenant
from litestar import Request, Response, get
from litestar.response import Redirect
from sqlalchemy import func, select


@get("/", guards=[staff_only], include_in_schema=False)
async def home(request: Request, services: Services) -> Response:
    tenant = request_tenant(request)
    if tenant is None:
        return Redirect("/platform", status_code=303)
    if fence_of(request.user) is not None:
        # A voucher agent sees nothing of the ISP but their own vouchers.
        return Redirect("/vouchers", status_code=303)
    counts: dict[str, int] = {}
    # Each business area contributes its own counts (their manifests' dashboard_counters).
    async with services.database.tenant_session(tenant.schema) as session:
        for label, counter in request.app.state.dashboard_counters:
            counts[label] = await counter(session)
    async with services.database.platform_session() as session:
        staff = await session.scalar(
            select(func.count()).where(TenantMembership.tenant_id == tenant.id)
        )
        keys = await session.scalar(
            select(func.count()).where(ApiKey.tenant_id == tenant.id, ApiKey.revoked_at.is_(None))
        )
    counts.update({"Staff": staff or 0, "Active API keys": keys or 0})
    return page(request, "dashboard.html", counts=counts)
