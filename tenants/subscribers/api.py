"""/api/v1/subscribers: list, search, create, change and move through the lifecycle.

A reseller's API key (one with a reseller id) sees and creates only that reseller's
subscribers; anyone else's answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Literal

from kiunga.platform.auth.fence import fence_for, fence_of
from kiunga.platform.auth.principals import Principal, StaffPrincipal
from kiunga.platform.web.controllers import FencedApiController, action
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, OptionalId, OptionalText, PageNumber
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers import service
from kiunga.tenants.subscribers.listing import SORTS, SubscriberFilters, list_subscribers
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.schemas import (
    StatusChange,
    StatusChangeRead,
    SubscriberCreate,
    SubscriberPage,
    SubscriberRead,
    SubscriberUpdate,
)
from kiunga.tenants.subscribers.scopes import SUBSCRIBERS_READ, SUBSCRIBERS_WRITE
from litestar import get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

SortKey = Literal[tuple(SORTS)]  # type: ignore[valid-type]


def actor_for(principal: Principal) -> Actor:
    if isinstance(principal, StaffPrincipal):
        return Actor.staff(principal.staff_id, principal.email)
    return Actor.api_key(principal.prefix)


class SubscriberController(FencedApiController):
    path = "/api/v1/subscribers"
    tags = ["subscribers"]

    @get(guards=[requires_scopes(SUBSCRIBERS_READ)], summary="List and search subscribers")
    async def list_subscribers(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        status: FromQuery[SubscriberStatus | None] = None,
        region: FromQuery[OptionalText] = None,
        branch: FromQuery[OptionalText] = None,
        site_id: FromQuery[OptionalId] = None,
        reseller_id: FromQuery[OptionalId] = None,
        q: FromQuery[OptionalText] = None,
        sort: FromQuery[SortKey] = "name",
        page: FromQuery[PageNumber] = 1,
        per_page: FromQuery[PageNumber] = 50,
    ) -> SubscriberPage:
        filters = SubscriberFilters(
            status=status,
            region=region,
            branch=branch,
            site_id=site_id,
            reseller_id=fence_for(principal).narrow(reseller_id),
            q=q,
        )
        found = await list_subscribers(
            tenant_session, filters, sort=sort, page=page, per_page=per_page
        )
        return SubscriberPage(
            items=[SubscriberRead.of(s) for s in found.items],
            total=found.total,
            page=found.page,
            per_page=found.per_page,
            pages=found.pages,
        )

    @post(guards=[requires_scopes(SUBSCRIBERS_WRITE)], summary="Add a subscriber")
    async def create_subscriber(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[SubscriberCreate],
    ) -> SubscriberRead:
        subscriber = await service.create_subscriber(
            tenant_session,
            data.fields(),
            actor=actor_for(principal),
            status=data.status,
            reseller_id=fence_of(principal),
        )
        return SubscriberRead.of(subscriber)

    @get("/{subscriber_id:int}", guards=[requires_scopes(SUBSCRIBERS_READ)], summary="Get one")
    async def get_subscriber(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
    ) -> SubscriberRead:
        subscriber = await service.get_subscriber(
            tenant_session, subscriber_id, reseller_id=fence_of(principal)
        )
        return SubscriberRead.of(subscriber)

    @patch("/{subscriber_id:int}", guards=[requires_scopes(SUBSCRIBERS_WRITE)], summary="Change")
    async def update_subscriber(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
        data: JSONBody[SubscriberUpdate],
    ) -> SubscriberRead:
        subscriber = await service.update_subscriber(
            tenant_session, subscriber_id, data.fields(), reseller_id=fence_of(principal)
        )
        return SubscriberRead.of(subscriber)

    @action(
        "/{subscriber_id:int}/status",
        SUBSCRIBERS_WRITE,
        summary="Move a subscriber through the lifecycle (recorded with who and why)",
    )
    async def change_status(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
        data: JSONBody[StatusChange],
    ) -> SubscriberRead:
        await service.get_subscriber(tenant_session, subscriber_id, reseller_id=fence_of(principal))
        target = service.check.status(data.status)
        subscriber = await service.set_status(
            tenant_session,
            subscriber_id,
            target,
            reason=data.reason,
            actor=actor_for(principal),
        )
        await tenant_session.refresh(subscriber)
        return SubscriberRead.of(subscriber)

    @get(
        "/{subscriber_id:int}/history",
        guards=[requires_scopes(SUBSCRIBERS_READ)],
        summary="Every status change: who, when and why",
    )
    async def history(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        subscriber_id: FromPath[Id],
    ) -> list[StatusChangeRead]:
        await service.get_subscriber(tenant_session, subscriber_id, reseller_id=fence_of(principal))
        changes = await service.status_history(tenant_session, subscriber_id)
        return [StatusChangeRead.of(change) for change in changes]
