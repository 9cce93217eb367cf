"""The console's lifecycle settings page: grace period, reminder lead time and postpaid
payment terms, in days. Owners and admins change them; each field is checked before
anything is saved."""

from __future__ import annotations

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.models import StaffRole
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import staff_only, tenant_only
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.services.models import DEFAULT_SETTINGS
from kiunga.tenants.services.settings import billing_settings, update_billing_settings
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST

MAX_DAYS = 365
FIELDS = (
    ("grace_days", "Grace period after the due date before suspension (days)"),
    ("reminder_days_before", "Send the due-soon reminder this many days before (days)"),
    ("postpaid_due_days", "Postpaid invoices are due after (days)"),
)


async def owners_and_admins(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = request_principal(connection)
    if not isinstance(principal, StaffPrincipal) or principal.role not in (
        StaffRole.OWNER,
        StaffRole.ADMIN,
    ):
        raise PermissionDeniedException("Only owners and admins change the lifecycle settings")


def parse_days(form) -> tuple[dict[str, int], dict[str, str]]:
    """The form's values as whole days, and an error per field that is not one."""
    values, errors = {}, {}
    for key in DEFAULT_SETTINGS:
        text = (form.get(key) or "").strip()
        if not text.isdigit() or int(text) > MAX_DAYS:
            errors[key] = f"{key} must be a whole number of days from 0 to {MAX_DAYS}"
        else:
            values[key] = int(text)
    return values, errors


def _render(request: Request, form: dict[str, str], *, errors=None, saved=False, status_code=200):
    return page(
        request,
        "lifecycle/settings.html",
        status_code=status_code,
        fields=FIELDS,
        form=form,
        errors=errors or {},
        saved=saved,
    )


class LifecycleSettingsPageController(Controller):
    path = "/settings/lifecycle"
    include_in_schema = False
    guards = [tenant_only, staff_only, owners_and_admins]

    @get()
    async def settings_page(self, request: Request, tenant_session: TenantSession) -> Response:
        current = await billing_settings(tenant_session)
        form = {key: str(getattr(current, key)) for key in DEFAULT_SETTINGS}
        return _render(request, form, saved=request.query_params.get("saved") == "1")

    @post()
    async def save_settings(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        values, errors = parse_days(form)
        if errors:
            given = {key: form.get(key, "") for key in DEFAULT_SETTINGS}
            return _render(request, given, errors=errors, status_code=HTTP_400_BAD_REQUEST)
        await update_billing_settings(tenant_session, **values)
        return Redirect("/settings/lifecycle?saved=1", status_code=303)
