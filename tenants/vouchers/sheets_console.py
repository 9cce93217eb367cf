"""Printable voucher sheets in the console: an HTML print view and a PDF of a batch's
unused vouchers, 24 to an A4 page.

    GET /vouchers/batches/{batch_id}/sheet        the print view
    GET /vouchers/batches/{batch_id}/sheet.pdf    the PDF
    ?status=new                                   only vouchers not yet sold
                                                  (default: new and sold, i.e. unused)

Staff with vouchers:read; an agent only for batches assigned to their reseller record
(another's batch is simply not found). The QR codes open the captive portal on the host
the console is served from, with the code filled in.
"""

from __future__ import annotations

from urllib.parse import urlencode

import anyio.to_thread
from kiunga.platform.auth.fence import fence_of
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.vouchers import sheets
from kiunga.tenants.vouchers.scopes import VOUCHERS_READ
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

NO_STORE = {"Cache-Control": "no-store"}


def origin_of(request: Request) -> str:
    """Scheme, host and port the request came in on: the ISP's own host."""
    return f"{request.url.scheme}://{request.url.netloc}"


async def _sheet(request: Request, session, tenant, batch_id: int) -> sheets.Sheet:
    statuses = sheets.statuses_for(request.query_params.get("status"))
    principal = request_principal(request)
    sheet = await sheets.load_sheet(
        session,
        batch_id,
        base_url=origin_of(request),
        isp_name=tenant.name,
        statuses=statuses,
        reseller_id=fence_of(principal),
    )
    if sheet is None:
        raise NotFoundException(f"No voucher batch {batch_id}")
    # Everything is read: give the connection back before the seconds of drawing.
    await session.commit()
    return sheet


class VoucherSheetsController(Controller):
    path = "/vouchers/batches/{batch_id:int}"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(VOUCHERS_READ)]

    @get("/sheet")
    async def sheet_page(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        batch_id: FromPath[Id],
    ) -> Response:
        sheet = await _sheet(request, tenant_session, tenant, batch_id)
        # Drawing a thousand QR codes takes a moment of CPU: off the event loop.
        pages = await anyio.to_thread.run_sync(sheets.html_cards, sheet)
        status = request.query_params.get("status")
        response = page(
            request,
            "vouchers/sheet.html",
            sheet=sheet,
            pages=pages,
            instruction=sheets.INSTRUCTION,
            only_new=(status or "").strip().lower() == "new",
            pdf_link=f"/vouchers/batches/{batch_id}/sheet.pdf"
            + (f"?{urlencode({'status': status})}" if status else ""),
        )
        response.headers.update(NO_STORE)
        return response

    @get("/sheet.pdf")
    async def sheet_pdf(
        self,
        request: Request,
        tenant_session: TenantSession,
        tenant: CurrentTenant,
        batch_id: FromPath[Id],
    ) -> Response:
        sheet = await _sheet(request, tenant_session, tenant, batch_id)
        content = await anyio.to_thread.run_sync(sheets.render_pdf, sheet)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="vouchers-batch-{batch_id}.pdf"',
                **NO_STORE,
            },
        )
