"""/api/v1/voucher-batches, /api/v1/vouchers, /api/v1/voucher-sales and
/api/v1/agents/summary: hotspot vouchers for API keys and console sessions.

Scopes: vouchers:read to look, vouchers:write to make and revoke batches, vouchers:sell to
mark vouchers sold. An agent — an API key carrying a reseller_id, or a staff member signed
in with the agent role — sees and sells only the batches assigned to their reseller record
(another agent's batch answers 404) and can neither make nor revoke anything (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from kiunga.platform.auth.fence import FENCED_CALLERS_ALLOWED, fence_for, fence_of
from kiunga.platform.auth.principals import Principal
from kiunga.platform.web.controllers import FencedApiController, TenantApiController, action
from kiunga.platform.web.dependencies import (
    CurrentPrincipal,
    CurrentTenant,
    Services,
    TenantSession,
)
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, Limit, Offset, OptionalId
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.vouchers import batches, export, sales
from kiunga.tenants.vouchers.models import SaleChannel, VoucherStatus
from kiunga.tenants.vouchers.schemas import (
    AgentSummaryRead,
    BatchAssign,
    BatchCreate,
    BatchPage,
    BatchRead,
    BatchRevoked,
    RevokeBody,
    SaleCreate,
    SalePage,
    SaleRead,
    SalesRecorded,
    VoucherPage,
    VoucherRead,
)
from kiunga.tenants.vouchers.scopes import VOUCHERS_READ, VOUCHERS_SELL, VOUCHERS_WRITE
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession


async def batch_read(session: AsyncSession, batch) -> BatchRead:
    counts = await batches.status_counts(session, [batch.id])
    return BatchRead.of(batch, counts[batch.id])


async def _batch(session: AsyncSession, principal: Principal, batch_id: int):
    return await batches.get_batch(session, batch_id, reseller_id=fence_of(principal))


def _revocation(principal: Principal, data: RevokeBody | None) -> dict[str, str]:
    """Why and by whom, as the batches service takes them for a batch or one voucher."""
    return {"reason": data.reason if data else "", "actor_label": actor_of(principal).label}


class VoucherBatchController(TenantApiController):
    path = "/api/v1/voucher-batches"
    tags = ["vouchers"]

    @get(
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="List voucher batches, newest first",
    )
    async def list_batches(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        package_id: FromQuery[OptionalId] = None,
        reseller_id: FromQuery[OptionalId] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BatchPage:
        rows, total = await batches.list_batches(
            tenant_session,
            reseller_id=fence_for(principal).narrow(reseller_id),
            package_id=package_id,
            limit=limit,
            offset=offset,
        )
        counts = await batches.status_counts(tenant_session, [b.id for b in rows])
        items = [BatchRead.of(batch, counts[batch.id]) for batch in rows]
        return BatchPage(items=items, total=total, limit=limit, offset=offset)

    @post(
        guards=[requires_scopes(VOUCHERS_WRITE)],
        status_code=HTTP_201_CREATED,
        summary="Generate a batch of vouchers",
        description="Codes come from the operating system's CSPRNG, drawn from an alphabet "
        "without look-alikes, unique in the ISP. `price` defaults to the package's; an agent "
        "(`reseller_id`) earns `commission_bp` basis points of it on each sale.",
    )
    async def create_batch(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[BatchCreate],
    ) -> BatchRead:
        batch = await batches.create_batch(
            tenant_session, data.spec(), created_by=actor_of(principal).label
        )
        return await batch_read(tenant_session, batch)

    @get(
        "/{batch_id:int}",
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="Get a batch",
    )
    async def get_batch(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, batch_id: FromPath[Id]
    ) -> BatchRead:
        return await batch_read(tenant_session, await _batch(tenant_session, principal, batch_id))

    @action(
        "/{batch_id:int}/revoke",
        VOUCHERS_WRITE,
        summary="Revoke every voucher of the batch not used up or expired",
    )
    async def revoke_batch(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        batch_id: FromPath[Id],
        data: JSONBody[RevokeBody | None] = None,
    ) -> BatchRevoked:
        revoked = await batches.revoke_batch(
            tenant_session, batch_id, **_revocation(principal, data)
        )
        batch = await batches.get_batch(tenant_session, batch_id)
        return BatchRevoked(batch=await batch_read(tenant_session, batch), revoked=revoked)

    @post(
        "/{batch_id:int}/assign",
        guards=[requires_scopes(VOUCHERS_WRITE)],
        status_code=HTTP_200_OK,
        summary="Hand the batch to an agent (or take it back) at a commission",
        description="Sales already made keep the agent and commission they were made with.",
    )
    async def assign_batch(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        batch_id: FromPath[Id],
        data: JSONBody[BatchAssign],
    ) -> BatchRead:
        batch = await batches.assign_batch(
            tenant_session,
            batch_id,
            reseller_id=data.reseller_id,
            commission_bp=data.commission_bp,
            actor_label=actor_of(principal).label,
        )
        return await batch_read(tenant_session, batch)

    @get(
        "/{batch_id:int}/vouchers",
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="A page of the batch's vouchers, optionally of one status",
    )
    async def list_vouchers(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        batch_id: FromPath[Id],
        status: FromQuery[VoucherStatus | None] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> VoucherPage:
        batch = await _batch(tenant_session, principal, batch_id)
        rows, total = await batches.list_vouchers(
            tenant_session, batch.id, status=status, limit=limit, offset=offset
        )
        items = [VoucherRead.of(v) for v in rows]
        return VoucherPage(items=items, total=total, limit=limit, offset=offset)

    @get(
        "/{batch_id:int}/export.csv",
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="The batch's vouchers as CSV (streamed)",
        media_type="text/csv",
    )
    async def export_csv(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        services: Services,
        tenant: CurrentTenant,
        batch_id: FromPath[Id],
    ) -> Stream:
        batch = await _batch(tenant_session, principal, batch_id)
        return csv_response(services, tenant, batch, fence_of(principal))


def csv_response(services, tenant, batch, reseller_id: int | None) -> Stream:
    chunks = export.stream_batch_csv(
        services.database, tenant.schema, batch.id, reseller_id=reseller_id
    )
    return Stream(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename(batch)}"'},
    )


class VoucherController(TenantApiController):
    path = "/api/v1/vouchers"
    tags = ["vouchers"]

    @get(
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="Find a voucher by its code",
    )
    async def find_voucher(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        code: Annotated[str, QueryParameter(min_length=1, max_length=64)],
    ) -> VoucherRead:
        voucher = await batches.find_voucher(tenant_session, code, reseller_id=fence_of(principal))
        return VoucherRead.of(voucher)

    @get(
        "/{voucher_id:int}",
        guards=[requires_scopes(VOUCHERS_READ)],
        opt=FENCED_CALLERS_ALLOWED,
        summary="Get a voucher",
    )
    async def get_voucher(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, voucher_id: FromPath[Id]
    ) -> VoucherRead:
        voucher = await batches.get_voucher(
            tenant_session, voucher_id, reseller_id=fence_of(principal)
        )
        return VoucherRead.of(voucher)

    @action(
        "/{voucher_id:int}/revoke",
        VOUCHERS_WRITE,
        summary="Revoke one voucher (an active one loses its service)",
    )
    async def revoke_voucher(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        voucher_id: FromPath[Id],
        data: JSONBody[RevokeBody | None] = None,
    ) -> VoucherRead:
        revocation = _revocation(principal, data)
        voucher = await batches.revoke_voucher(tenant_session, voucher_id, **revocation)
        return VoucherRead.of(voucher)


class VoucherSaleController(FencedApiController):
    path = "/api/v1/voucher-sales"
    tags = ["vouchers"]

    @post(
        guards=[requires_scopes(VOUCHERS_SELL)],
        status_code=HTTP_201_CREATED,
        summary="Mark vouchers sold (by id or code)",
        description="All or nothing. A voucher already sold keeps its sale (a repeated "
        "request answers the same); one active, used up, expired or revoked is refused (409).",
    )
    async def record_sales(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[SaleCreate],
    ) -> SalesRecorded:
        recorded = await sales.sell_vouchers(
            tenant_session,
            voucher_ids=data.voucher_ids,
            codes=data.codes,
            reseller_id=fence_of(principal),
            actor_label=actor_of(principal).label,
        )
        codes = await sales.voucher_codes(tenant_session, [s.voucher_id for s in recorded])
        items = [SaleRead.of(sale, codes[sale.voucher_id]) for sale in recorded]
        return SalesRecorded(
            items=items,
            total_price=sum(s.price for s in recorded),
            total_commission=sum(s.commission for s in recorded),
        )

    @get(guards=[requires_scopes(VOUCHERS_READ)], summary="List sales, newest first")
    async def list_sales(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        batch_id: FromQuery[OptionalId] = None,
        reseller_id: FromQuery[OptionalId] = None,
        channel: FromQuery[SaleChannel | None] = None,
        since: Annotated[
            datetime | None, QueryParameter(description="sold at or after (with a zone)")
        ] = None,
        until: Annotated[datetime | None, QueryParameter(description="sold before")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> SalePage:
        for field, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise FieldError(field, f"{field} needs a time zone (such as Z or +03:00)")
        rows, total = await sales.list_sales(
            tenant_session,
            reseller_id=fence_for(principal).narrow(reseller_id),
            batch_id=batch_id,
            channel=channel,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        items = [SaleRead.of(sale, code) for sale, code in rows]
        return SalePage(items=items, total=total, limit=limit, offset=offset)


class AgentSummaryController(FencedApiController):
    path = "/api/v1/agents"
    tags = ["vouchers"]

    @get(
        "/summary",
        guards=[requires_scopes(VOUCHERS_READ)],
        summary="Each agent's vouchers assigned, sold and redeemed, sales and commission owed",
    )
    async def summary(
        self, tenant_session: TenantSession, principal: CurrentPrincipal
    ) -> list[AgentSummaryRead]:
        rows = await sales.agent_summaries(tenant_session, reseller_id=fence_of(principal))
        return [AgentSummaryRead.of(row) for row in rows]


CONTROLLERS = [
    VoucherBatchController,
    VoucherController,
    VoucherSaleController,
    AgentSummaryController,
]
