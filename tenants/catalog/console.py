"""The console's packages page: the catalog, a form to add a package, archive and restore.

Prices are typed in the ISP's currency's main unit (1500 or 1500.50 shillings, 500 Ugandan
shillings) and kept in minor units, like every amount; the money kit knows how many each
currency has.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.money import MoneyError, parse_money
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import CurrentTenant, TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.catalog import service
from kiunga.tenants.catalog.models import BillingType, ServiceType, ValidityUnit
from kiunga.tenants.catalog.scopes import PACKAGES_READ, PACKAGES_WRITE
from kiunga.tenants.sites.service import list_sites
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

GIGABYTE = 1_000_000_000
FORM_FIELDS = (
    "name", "name_sw", "price", "billing_type", "validity_count", "validity_unit", "service_type",
    "rate_limit", "data_cap_gb", "fup_rate_limit", "description", "shared_users",
    "sold_on_portal",
)  # fmt: skip


def price_to_minor(text: str, currency: str) -> int:
    try:
        return parse_money(text, currency, "price")
    except MoneyError as exc:
        raise service.PackageError(exc.field, exc.message) from None


def _whole(field: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise service.PackageError(field, f"{field} must be a whole number") from exc


def fields_from_form(form, currency: str) -> service.PackageFields:
    cap_text = (form.get("data_cap_gb") or "").strip()
    cap = None
    if cap_text:
        try:
            cap = int(Decimal(cap_text) * GIGABYTE)
        except InvalidOperation as exc:
            raise service.PackageError("data_cap_gb", "data cap must be a number of GB") from exc
    return service.PackageFields(
        name=form.get("name", ""),
        name_sw=form.get("name_sw", ""),
        description=form.get("description", ""),
        price=price_to_minor(form.get("price", ""), currency),
        billing_type=form.get("billing_type") or "prepaid",
        validity_count=_whole("validity_count", form.get("validity_count", "")),
        validity_unit=form.get("validity_unit") or "month",
        service_type=form.get("service_type") or "pppoe",
        rate_limit=form.get("rate_limit", ""),
        data_cap_bytes=cap,
        fup_rate_limit=(form.get("fup_rate_limit") or "").strip() or None,
        site_ids=[_whole("site_ids", value) for value in form.getall("site_ids", [])],
        shared_users=_whole("shared_users", form.get("shared_users") or "1"),
        sold_on_portal=bool(form.get("sold_on_portal")),
    )


async def _render(request, session, *, form=None, errors=None, status_code=200) -> Response:
    principal = request.user
    can_write = isinstance(principal, StaffPrincipal) and PACKAGES_WRITE in principal.scopes
    return page(
        request,
        "catalog/index.html",
        status_code=status_code,
        packages=await service.list_packages(session, archived=None),
        sites=await list_sites(session),
        form=form or {"validity_count": "1", "validity_unit": "month", "shared_users": "1"},
        errors=errors or {},
        can_write=can_write,
        billing_types=[m.value for m in BillingType],
        validity_units=[m.value for m in ValidityUnit],
        service_types=[m.value for m in ServiceType],
        describe_validity=service.describe_validity,
    )


class PackagesPageController(Controller):
    path = "/packages"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(PACKAGES_READ)]

    @get()
    async def packages_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render(request, tenant_session)

    @post(guards=[requires_scopes(PACKAGES_WRITE)])
    async def add_package(
        self, request: Request, tenant_session: TenantSession, tenant: CurrentTenant
    ) -> Response:
        form = await request.form()
        currency = await service.tenant_currency(tenant_session, tenant.id)
        try:
            fields = fields_from_form(form, currency)
            await service.create_package(tenant_session, fields, currency=currency)
        except service.PackageError as exc:
            values = {key: form.get(key, "") for key in FORM_FIELDS}
            values["site_ids"] = form.getall("site_ids", [])
            return await _render(
                request, tenant_session, form=values, errors=exc.form_errors(),
                status_code=exc.status_code,
            )  # fmt: skip
        return Redirect("/packages", status_code=303)

    @post("/{package_id:int}/archive", guards=[requires_scopes(PACKAGES_WRITE)])
    async def archive(self, tenant_session: TenantSession, package_id: FromPath[Id]) -> Response:
        return await _toggle(tenant_session, package_id, True)

    @post("/{package_id:int}/unarchive", guards=[requires_scopes(PACKAGES_WRITE)])
    async def unarchive(self, tenant_session: TenantSession, package_id: FromPath[Id]) -> Response:
        return await _toggle(tenant_session, package_id, False)


async def _toggle(session, package_id: int, archived: bool) -> Response:
    await service.set_archived(session, package_id, archived)
    return Redirect("/packages", status_code=303)
