"""/api/v1/resellers: list, add, read and change the ISP's resellers and agents.

Reading needs subscribers:read, changing subscribers:write. Resellers are the ISP's own
business: a reseller's API key is refused here (403), and signed-in staff must be an owner
or an admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.models import StaffRole
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, tenant_only
from kiunga.platform.web.inputs import Id, Offset, Text
from kiunga.platform.web.pagination import ShortLimit
from kiunga.platform.web.request_state import request_principal
from kiunga.tenants.resellers import service
from kiunga.tenants.subscribers.models import Reseller
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_READ, SUBSCRIBERS_WRITE
from litestar import Controller, get, patch, post
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

MANAGING_ROLES = frozenset({StaffRole.OWNER, StaffRole.ADMIN})


async def managers_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Among staff only owners and admins (a reseller's key is fenced off ISP-wide routes)."""
    principal = request_principal(connection)
    if isinstance(principal, StaffPrincipal) and principal.role not in MANAGING_ROLES:
        raise PermissionDeniedException("Only owners and admins manage resellers")


class ResellerCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    phone: Text | None = None


class ResellerUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; a null phone removes it."""

    name: Text | msgspec.UnsetType = msgspec.UNSET
    phone: Text | None | msgspec.UnsetType = msgspec.UNSET


class ResellerRead(msgspec.Struct):
    id: int
    name: str
    phone: str | None
    subscribers: int
    created_at: datetime

    @classmethod
    def of(cls, reseller: Reseller, subscribers: int) -> ResellerRead:
        return cls(
            id=reseller.id,
            name=reseller.name,
            phone=reseller.phone,
            subscribers=subscribers,
            created_at=reseller.created_at,
        )


class ResellerPage(msgspec.Struct):
    items: list[ResellerRead]
    total: int
    limit: int
    offset: int


class ResellerController(Controller):
    path = "/api/v1/resellers"
    tags = ["resellers"]
    guards = [tenant_only, managers_only]
    security = [{"BearerAuth": []}]

    @get(guards=[requires_scopes(SUBSCRIBERS_READ)], summary="List resellers by name")
    async def list_resellers(
        self,
        tenant_session: TenantSession,
        q: Annotated[str, QueryParameter(description="name or phone")] = "",
        limit: ShortLimit = 50,
        offset: Offset = 0,
    ) -> ResellerPage:
        rows, total = await service.list_resellers(tenant_session, q=q, limit=limit, offset=offset)
        items = [ResellerRead.of(reseller, count) for reseller, count in rows]
        return ResellerPage(items=items, total=total, limit=limit, offset=offset)

    @post(guards=[requires_scopes(SUBSCRIBERS_WRITE)], summary="Add a reseller")
    async def create_reseller(
        self, tenant_session: TenantSession, data: JSONBody[ResellerCreate]
    ) -> ResellerRead:
        reseller = await service.create_reseller(tenant_session, name=data.name, phone=data.phone)
        return ResellerRead.of(reseller, 0)

    @get("/{reseller_id:int}", guards=[requires_scopes(SUBSCRIBERS_READ)], summary="Get one")
    async def get_reseller(
        self, tenant_session: TenantSession, reseller_id: FromPath[Id]
    ) -> ResellerRead:
        reseller = await service.get_reseller(tenant_session, reseller_id)
        count = await service.subscriber_count(tenant_session, reseller.id)
        return ResellerRead.of(reseller, count)

    @patch("/{reseller_id:int}", guards=[requires_scopes(SUBSCRIBERS_WRITE)], summary="Change")
    async def update_reseller(
        self,
        tenant_session: TenantSession,
        reseller_id: FromPath[Id],
        data: JSONBody[ResellerUpdate],
    ) -> ResellerRead:
        changes = {
            name: value
            for name in data.__struct_fields__
            if (value := getattr(data, name)) is not msgspec.UNSET
        }
        reseller = await service.update_reseller(tenant_session, reseller_id, **changes)
        count = await service.subscriber_count(tenant_session, reseller.id)
        return ResellerRead.of(reseller, count)
