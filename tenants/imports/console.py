"""The console's import page: upload a CSV, see how its columns were understood, a dry run
or the import itself, and a report of every row that was refused (row, field, reason)."""

from __future__ import annotations

import anyio
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.tenants.actors import Actor
from kiunga.tenants.imports.columns import FIELDS, MappingError, build_mapping, parse_overrides
from kiunga.tenants.imports.subscribers import import_subscribers, read_csv
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_WRITE
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.status_codes import HTTP_400_BAD_REQUEST

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
REPORT_LIMIT = 500  # problems shown on the page; the counts cover them all


def _render(request, *, status_code=200, **context) -> Response:
    defaults = {"report": None, "mapping": None, "error": None, "fields": FIELDS, "form": {}}
    return page(request, "imports/subscribers.html", status_code=status_code,
                **(defaults | context))  # fmt: skip


class ImportsPageController(Controller):
    path = "/imports/subscribers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(SUBSCRIBERS_WRITE)]

    @get()
    async def import_page(self, request: Request) -> Response:
        return _render(request, form={"dry_run": True})

    @post(request_max_body_size=MAX_UPLOAD_BYTES + 64 * 1024)
    async def upload(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        upload = form.get("file")
        dry_run = form.get("dry_run") == "on"
        map_text = form.get("map") or ""
        shown = {"dry_run": dry_run, "map": map_text}
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _render(request, error="Choose a CSV file.", form=shown, status_code=400)
        data = await upload.read()
        if len(data) > MAX_UPLOAD_BYTES:
            return _render(request, error="The file is larger than 20 MB.", form=shown,
                           status_code=HTTP_400_BAD_REQUEST)  # fmt: skip
        try:
            # Decoding and splitting 20 MB is CPU work: off the event loop.
            headers, records = await anyio.to_thread.run_sync(read_csv, data)
            pairs = [line.strip() for line in map_text.splitlines() if line.strip()]
            mapping = build_mapping(headers, parse_overrides(pairs, headers))
        except MappingError as exc:
            return _render(request, error=str(exc), form=shown, status_code=HTTP_400_BAD_REQUEST)
        principal: StaffPrincipal = request.user
        actor = Actor("import", f"import:{upload.filename}:{principal.email}"[:60],
                      principal.staff_id)  # fmt: skip
        report = await import_subscribers(
            tenant_session, records, mapping, dry_run=dry_run, actor=actor
        )
        return _render(
            request,
            report=report,
            problems=report.problems[:REPORT_LIMIT],
            mapping=mapping,
            filename=upload.filename,
            form=shown,
        )
