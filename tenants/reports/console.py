"""The console's reports page: every report as a small table for one period, with a CSV
link beside each."""

from __future__ import annotations

from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.tenants.reports.catalogue import REPORTS
from kiunga.tenants.reports.period import PeriodError, make_period, tenant_facts
from kiunga.tenants.reports.scopes import REPORTS_READ
from kiunga.tenants.reports.tables import plain
from litestar import Controller, Request, Response, get


class ReportsPageController(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(REPORTS_READ)]

    @get()
    async def reports_page(self, request: Request, tenant_session: TenantSession) -> Response:
        facts = await tenant_facts(tenant_session)
        first, last = request.query_params.get("from"), request.query_params.get("to")
        error = None
        try:
            period = make_period(facts.timezone, first, last)
        except PeriodError as exc:
            error = exc.message
            period = make_period(facts.timezone, None, None)
        results = []
        for kind in REPORTS.values():
            table = await kind.run(tenant_session, period)
            rows = [[plain(row[c]) for c in table.columns] for row in table.rows]
            results.append((kind, table.columns, rows))
        return page(
            request,
            "reports/index.html",
            status_code=400 if error else 200,
            period=period,
            currency=facts.currency,
            results=results,
            error=error,
        )
