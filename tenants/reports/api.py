"""/api/v1/reports/<name>?from=&to=: a report as JSON, or CSV (format=csv or Accept:
text/csv). Dates are the ISP's local calendar days, both included.

Reports are the whole ISP's figures, so a reseller's API key (which sees only its own
subscribers everywhere else) is refused here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes, tenant_only
from kiunga.tenants.reports.catalogue import REPORTS, ReportKind
from kiunga.tenants.reports.period import Period, make_period, tenant_facts
from kiunga.tenants.reports.scopes import REPORTS_READ
from kiunga.tenants.reports.tables import Table, plain, to_csv
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

CSV = "text/csv"


class ReportSummary(msgspec.Struct):
    name: str
    title: str
    description: str


class ReportResult(msgspec.Struct):
    report: str
    title: str
    first_day: date = msgspec.field(name="from")
    last_day: date = msgspec.field(name="to")
    timezone: str
    currency: str
    columns: list[str]
    rows: list[dict[str, Any]]


def report_kind(name: str) -> ReportKind:
    kind = REPORTS.get(name)
    if kind is None:
        raise NotFoundException(f"no report named {name!r}; see /api/v1/reports")
    return kind


async def run_report(
    session: AsyncSession, kind: ReportKind, first: str | None, last: str | None
) -> tuple[Period, str, Table]:
    facts = await tenant_facts(session)
    period = make_period(facts.timezone, first, last)
    return period, facts.currency, await kind.run(session, period)


def wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        if format_ not in ("json", "csv"):
            raise FieldError("format", "format must be json or csv")
        return format_ == "csv"
    return CSV in request.headers.get("accept", "")


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [tenant_only, requires_scopes(REPORTS_READ)]
    security = [{"BearerAuth": []}]

    @get(summary="The reports there are")
    async def list_reports(self) -> list[ReportSummary]:
        return [ReportSummary(k.name, k.title, k.description) for k in REPORTS.values()]

    @get("/{name:str}", summary="Run a report", media_type=None)
    async def get_report(
        self,
        request: Request,
        tenant_session: TenantSession,
        name: FromPath[str],
        first: Annotated[str | None, QueryParameter(name="from", description="YYYY-MM-DD")] = None,
        last: Annotated[str | None, QueryParameter(name="to", description="YYYY-MM-DD")] = None,
        format_: Annotated[str | None, QueryParameter(name="format")] = None,
    ) -> Response:
        kind = report_kind(name)
        as_csv = wants_csv(request, format_)
        period, currency, table = await run_report(tenant_session, kind, first, last)
        if as_csv:
            filename = f"{kind.name}_{period.first_day}_{period.last_day}.csv"
            return Response(
                content=to_csv(table),
                media_type=f"{CSV}; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        result = ReportResult(
            report=kind.name,
            title=kind.title,
            first_day=period.first_day,
            last_day=period.last_day,
            timezone=period.timezone,
            currency=currency,
            columns=table.columns,
            rows=[{c: plain(v) for c, v in row.items()} for row in table.rows],
        )
        return Response(content=result, media_type="application/json")
