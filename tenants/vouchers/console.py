"""The console's voucher pages: batches (an agent sees only theirs), a form for a new batch,
a batch's page (vouchers by status, revoke, mark sold, CSV, print), and the agents' summary
with, for owners and admins, a form giving an agent a console login tied to their record.

Prices are typed in the package's currency's main unit (20 or 20.50 shillings, 500 Ugandan
shillings) and kept in minor units; the money kit knows how many each currency has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from kiunga.platform.auth.fence import fence_of
from kiunga.platform.auth.invitations import InvitationError, invitation_path, invite_staff
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.models import StaffRole
from kiunga.platform.money import MoneyError, format_money, parse_money
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import (
    CurrentTenant,
    PlatformSession,
    Services,
    TenantSession,
)
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import MAX_ID, Id
from kiunga.platform.web.pagination import requested_page
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.resellers.service import reseller_choices
from kiunga.tenants.subscribers.models import Reseller
from kiunga.tenants.vouchers import batches, sales
from kiunga.tenants.vouchers.api import csv_response
from kiunga.tenants.vouchers.batches import BatchSpec
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from kiunga.tenants.vouchers.models import VoucherStatus
from kiunga.tenants.vouchers.scopes import VOUCHERS_READ, VOUCHERS_SELL, VOUCHERS_WRITE
from kiunga.tenants.zones import tenant_zone
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

BATCHES_PER_PAGE = 50
VOUCHERS_PER_PAGE = 100
# The spec's fields that the form names otherwise.
FORM_NAMES = {"commission_bp": "commission_percent", "unused_expires_at": "unused_expires_on"}
MANAGING_ROLES = frozenset({StaffRole.OWNER, StaffRole.ADMIN})
FORM_FIELDS = (
    "name", "package_id", "count", "price", "code_length", "alphabet", "prefix",
    "unused_expires_on", "reseller_id", "commission_percent",
)  # fmt: skip


async def not_for_agents(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if fence_of(request_principal(connection)) is not None:
        raise PermissionDeniedException("Agents cannot make or revoke voucher batches")


async def managers_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal = request_principal(connection)
    if not isinstance(principal, StaffPrincipal) or principal.role not in MANAGING_ROLES:
        raise PermissionDeniedException("Only owners and admins give agents a login")


def _can(request: Request, scope: str) -> bool:
    return scope in request.user.scopes


async def _price(session: AsyncSession, text: str, package_id: int | None) -> int | None:
    """The typed price in minor units of the package's currency (a batch sells in it); None
    when left empty (the package's own price) or when there is no such package, which the
    batch itself then refuses."""
    known = text and package_id is not None and 1 <= package_id <= MAX_ID
    package = await session.get(Package, package_id) if known else None
    if package is None:
        return None
    try:
        return parse_money(text, package.currency, "price")
    except MoneyError as exc:
        raise VoucherError(exc.field, exc.message) from None


def _whole(field: str, text: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise VoucherError(field, f"{field.replace('_', ' ')} must be a whole number") from exc


def commission_from(text: str | None) -> int:
    """A percentage as typed (12.5) in basis points (1250); empty is none."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return 0
    try:
        basis_points = Decimal(text) * 100
    except InvalidOperation as exc:
        raise VoucherError("commission_percent", "commission is a percentage") from exc
    if basis_points != basis_points.to_integral_value():
        raise VoucherError("commission_percent", "commission has at most two decimals")
    return int(basis_points)


async def spec_from_form(session: AsyncSession, form) -> BatchSpec:
    """The form's text as a spec: main-unit price, a percentage of commission, and the last
    day unused codes are good for (until midnight at its end, the ISP's time)."""
    price_text = (form.get("price") or "").strip()
    commission_bp = commission_from(form.get("commission_percent", ""))
    expires_at = None
    day_text = (form.get("unused_expires_on") or "").strip()
    if day_text:
        try:
            day = datetime.strptime(day_text, "%Y-%m-%d").date()
        except ValueError as exc:
            raise VoucherError("unused_expires_on", "give the day as YYYY-MM-DD") from exc
        zone = await tenant_zone(session)
        end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=zone)
        expires_at = end.astimezone(UTC)
    package_id = _whole("package_id", form.get("package_id", ""))
    return BatchSpec(
        name=form.get("name", ""),
        package_id=package_id,
        count=_whole("count", form.get("count", "")),
        price=await _price(session, price_text, package_id),
        code_length=_whole("code_length", form.get("code_length", "")) or 8,
        alphabet=(form.get("alphabet") or "").strip() or None,
        prefix=form.get("prefix", ""),
        unused_expires_at=expires_at,
        mac_binding=form.get("mac_binding") in ("on", "1", "true"),
        reseller_id=_whole("reseller_id", form.get("reseller_id", "")),
        commission_bp=commission_bp,
    )


async def _hotspot_packages(session: AsyncSession) -> list[Package]:
    return list(
        await session.scalars(
            select(Package)
            .where(Package.archived_at.is_(None), Package.service_type == ServiceType.HOTSPOT)
            .order_by(Package.name)
        )
    )


async def _names(session: AsyncSession, model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(
        (await session.execute(select(model.id, model.name).where(model.id.in_(ids)))).all()
    )


async def _batch_or_404(request: Request, session: AsyncSession, batch_id: int):
    return await batches.get_batch(session, batch_id, reseller_id=fence_of(request.user))


class VouchersPageController(Controller):
    path = "/vouchers"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(VOUCHERS_READ)]

    @get()
    async def batches_page(self, request: Request, tenant_session: TenantSession) -> Response:
        pages = requested_page(request, BATCHES_PER_PAGE)
        rows, total = await batches.list_batches(
            tenant_session,
            reseller_id=fence_of(request.user),
            limit=pages.limit,
            offset=pages.offset,
        )
        return page(
            request,
            "vouchers/index.html",
            rows=rows,
            total=total,
            counts=await batches.status_counts(tenant_session, [b.id for b in rows]),
            packages=await _names(tenant_session, Package, [b.package_id for b in rows]),
            agents=await _names(tenant_session, Reseller, [b.reseller_id for b in rows]),
            pages=pages.counted(total),
            can_write=_can(request, VOUCHERS_WRITE) and fence_of(request.user) is None,
            is_agent=fence_of(request.user) is not None,
        )

    async def _form(self, request, session, *, form, errors=None, status_code=200) -> Response:
        return page(
            request,
            "vouchers/new.html",
            status_code=status_code,
            form=form,
            errors=errors or {},
            packages=await _hotspot_packages(session),
            resellers=await reseller_choices(session),
        )

    @get("/new", guards=[requires_scopes(VOUCHERS_WRITE), not_for_agents])
    async def new_batch(self, request: Request, tenant_session: TenantSession) -> Response:
        form = {"count": "100", "code_length": "8"}
        return await self._form(request, tenant_session, form=form)

    @post(guards=[requires_scopes(VOUCHERS_WRITE), not_for_agents])
    async def add_batch(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        try:
            async with tenant_session.begin_nested():
                spec = await spec_from_form(tenant_session, form)
                batch = await batches.create_batch(
                    tenant_session, spec, created_by=actor_of(request.user).label
                )
        except VoucherError as exc:
            values = {key: form.get(key, "") for key in FORM_FIELDS}
            values["mac_binding"] = form.get("mac_binding", "")
            field = {
                "commission_bp": "commission_percent",
                "unused_expires_at": "unused_expires_on",
            }
            return await self._form(
                request,
                tenant_session,
                form=values,
                errors={field.get(exc.field, exc.field): exc.message},
                status_code=HTTP_400_BAD_REQUEST,
            )
        return Redirect(f"/vouchers/batches/{batch.id}", status_code=303)

    async def _batch_page(
        self, request, session, batch_id, *, errors=None, notice=None, status_code=200
    ) -> Response:
        batch = await _batch_or_404(request, session, batch_id)
        wanted = request.query_params.get("status") or ""
        status = VoucherStatus(wanted) if wanted in VoucherStatus._value2member_map_ else None
        pages = requested_page(
            request,
            VOUCHERS_PER_PAGE,
            keep={"status": status.value if status else ""},
            path=f"/vouchers/batches/{batch.id}",
        )
        vouchers, shown = await batches.list_vouchers(
            session, batch.id, status=status, limit=pages.limit, offset=pages.offset
        )
        agent = fence_of(request.user)
        return page(
            request,
            "vouchers/batch.html",
            status_code=status_code,
            batch=batch,
            counts=(await batches.status_counts(session, [batch.id]))[batch.id],
            package_name=(await _names(session, Package, [batch.package_id])).get(
                batch.package_id, ""
            ),
            agent_name=(await _names(session, Reseller, [batch.reseller_id])).get(
                batch.reseller_id
            ),
            vouchers=vouchers,
            shown=shown,
            status=status.value if status else "",
            statuses=[s.value for s in VoucherStatus],
            pages=pages.counted(shown),
            can_revoke=_can(request, VOUCHERS_WRITE) and agent is None,
            can_sell=_can(request, VOUCHERS_SELL),
            resellers=(
                await reseller_choices(session)
                if _can(request, VOUCHERS_WRITE) and agent is None
                else []
            ),
            errors=errors or {},
            notice=notice,
        )

    @get("/batches/{batch_id:int}")
    async def batch_page(
        self, request: Request, tenant_session: TenantSession, batch_id: FromPath[Id]
    ) -> Response:
        return await self._batch_page(request, tenant_session, batch_id)

    @get("/batches/{batch_id:int}/export.csv")
    async def export_csv(
        self,
        request: Request,
        tenant_session: TenantSession,
        services: Services,
        tenant: CurrentTenant,
        batch_id: FromPath[Id],
    ) -> Response:
        batch = await _batch_or_404(request, tenant_session, batch_id)
        return csv_response(services, tenant, batch, fence_of(request.user))

    @post(
        "/batches/{batch_id:int}/revoke",
        guards=[requires_scopes(VOUCHERS_WRITE), not_for_agents],
    )
    async def revoke_batch(
        self, request: Request, tenant_session: TenantSession, batch_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        await _batch_or_404(request, tenant_session, batch_id)
        await batches.revoke_batch(
            tenant_session,
            batch_id,
            reason=form.get("reason", ""),
            actor_label=actor_of(request.user).label,
        )
        return Redirect(f"/vouchers/batches/{batch_id}", status_code=303)

    @post(
        "/batches/{batch_id:int}/assign",
        guards=[requires_scopes(VOUCHERS_WRITE), not_for_agents],
    )
    async def assign_batch(
        self, request: Request, tenant_session: TenantSession, batch_id: FromPath[Id]
    ) -> Response:
        await _batch_or_404(request, tenant_session, batch_id)
        form = await request.form()
        try:
            async with tenant_session.begin_nested():
                commission = commission_from(form.get("commission_percent", ""))
                await batches.assign_batch(
                    tenant_session,
                    batch_id,
                    reseller_id=_whole("reseller_id", form.get("reseller_id", "")),
                    commission_bp=commission,
                    actor_label=actor_of(request.user).label,
                )
        except VoucherError as exc:
            return await self._batch_page(
                request,
                tenant_session,
                batch_id,
                errors={FORM_NAMES.get(exc.field, exc.field): exc.message},
                status_code=exc.status_code,
            )
        return Redirect(f"/vouchers/batches/{batch_id}", status_code=303)

    @post("/{voucher_id:int}/revoke", guards=[requires_scopes(VOUCHERS_WRITE), not_for_agents])
    async def revoke_voucher(
        self, request: Request, tenant_session: TenantSession, voucher_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        voucher = await batches.get_voucher(tenant_session, voucher_id)
        try:
            async with tenant_session.begin_nested():
                await batches.revoke_voucher(
                    tenant_session,
                    voucher_id,
                    reason=form.get("reason", ""),
                    actor_label=actor_of(request.user).label,
                )
        except VoucherError as exc:
            return await self._batch_page(
                request,
                tenant_session,
                voucher.batch_id,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        return Redirect(f"/vouchers/batches/{voucher.batch_id}", status_code=303)

    @post("/batches/{batch_id:int}/sell", guards=[requires_scopes(VOUCHERS_SELL)])
    async def sell(
        self, request: Request, tenant_session: TenantSession, batch_id: FromPath[Id]
    ) -> Response:
        batch = await _batch_or_404(request, tenant_session, batch_id)
        form = await request.form()
        ids = [int(v) for v in form.getall("voucher_ids", []) if str(v).isdigit()]
        typed = (form.get("codes") or "").replace(",", " ").split()
        try:
            async with tenant_session.begin_nested():
                recorded = await sales.sell_vouchers(
                    tenant_session,
                    voucher_ids=ids,
                    codes=typed,
                    reseller_id=fence_of(request.user),
                    actor_label=actor_of(request.user).label,
                )
                if any(sale.batch_id != batch.id for sale in recorded):
                    raise VoucherError("codes", "those codes are not all of this batch")
        except (VoucherError, VoucherNotFound) as exc:
            return await self._batch_page(
                request,
                tenant_session,
                batch.id,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        total = sum(sale.price for sale in recorded)
        notice = (
            f"{len(recorded)} voucher{'' if len(recorded) == 1 else 's'} sold for "
            f"{format_money(total, batch.currency, code=False)} {batch.currency}"
        )
        return await self._batch_page(request, tenant_session, batch.id, notice=notice)

    async def _agents_page(
        self, request, session, *, form=None, errors=None, invited=None, status_code=200
    ) -> Response:
        agent = fence_of(request.user)
        recent, _ = await sales.list_sales(session, reseller_id=agent, limit=20)
        principal = request.user
        can_manage = isinstance(principal, StaffPrincipal) and principal.role in MANAGING_ROLES
        return page(
            request,
            "vouchers/agents.html",
            status_code=status_code,
            summaries=await sales.agent_summaries(session, reseller_id=agent),
            recent=recent,
            agents=await _names(session, Reseller, [sale.reseller_id for sale, _ in recent]),
            resellers=await reseller_choices(session) if can_manage else [],
            can_manage=can_manage,
            form=form or {},
            errors=errors or {},
            invited=invited,
        )

    @get("/agents")
    async def agents_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await self._agents_page(request, tenant_session)

    @post("/agents/logins", guards=[managers_only])
    async def invite_agent(
        self,
        request: Request,
        tenant_session: TenantSession,
        platform_session: PlatformSession,
        tenant: CurrentTenant,
    ) -> Response:
        """Invite an agent by a link (shown here, to be passed on): whether the email has an
        account is not looked up, and an existing account joins only with its password."""
        form = await request.form()
        given = {key: form.get(key, "") for key in ("email", "name", "reseller_id")}
        try:
            reseller_id = _whole("reseller_id", given["reseller_id"])
            if reseller_id is None or await tenant_session.get(Reseller, reseller_id) is None:
                raise VoucherError("reseller_id", "choose the agent's reseller record")
            token = await invite_staff(
                platform_session,
                tenant_id=tenant.id,
                email=given["email"],
                name=given["name"],
                role=StaffRole.AGENT,
                reseller_id=reseller_id,
                invited_by_staff_id=request.user.staff_id,
            )
        except (VoucherError, InvitationError) as exc:
            await platform_session.rollback()
            return await self._agents_page(
                request,
                tenant_session,
                form=given,
                errors=exc.form_errors(),
                status_code=HTTP_400_BAD_REQUEST,
            )
        await platform_session.commit()
        invited = {
            "email": given["email"].strip().lower(),
            "link": f"{request.base_url}".rstrip("/") + invitation_path(token),
        }
        return await self._agents_page(request, tenant_session, invited=invited)
