"""/api/v1/tickets: support tickets and their threads, for API keys and console sessions.

A reseller's API key sees, opens and works only tickets about its own subscribers; any
other ticket (an internal one included) answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from kiunga.platform.auth.fence import Fence, fence_of
from kiunga.platform.auth.principals import ApiKeyPrincipal, Principal, StaffPrincipal
from kiunga.platform.web.controllers import FencedApiController, action
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, Offset, OptionalText
from kiunga.platform.web.pagination import ShortLimit
from kiunga.tenants.actors import SYSTEM, Actor
from kiunga.tenants.subscribers.fence import inside_fence
from kiunga.tenants.tickets import queries, service
from kiunga.tenants.tickets.models import TicketPriority, TicketStatus
from kiunga.tenants.tickets.schemas import (
    AssignmentChange,
    MessageCreate,
    MessageRead,
    StatusChange,
    TicketCreate,
    TicketPage,
    TicketRead,
)
from kiunga.tenants.tickets.scopes import TICKETS_READ, TICKETS_WRITE
from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_404_NOT_FOUND
from sqlalchemy.ext.asyncio import AsyncSession


def actor_of(principal: Principal | None) -> Actor:
    if isinstance(principal, StaffPrincipal):
        return Actor.staff(principal.staff_id, principal.email)
    if isinstance(principal, ApiKeyPrincipal):
        return Actor.api_key(principal.prefix)
    return SYSTEM


async def _owned_by(session: AsyncSession, subscriber_id: int | None, reseller_id: int) -> bool:
    return await inside_fence(session, Fence(reseller_id), subscriber_id)


async def ensure_visible(session: AsyncSession, principal: Principal, ticket_id: int) -> None:
    """For a reseller's key, a ticket about someone else's subscriber (or about nobody) is not
    found."""
    reseller_id = fence_of(principal)
    if reseller_id is None:
        return
    ticket = await service.get_ticket(session, ticket_id)
    if not await _owned_by(session, ticket.subscriber_id, reseller_id):
        raise service.TicketNotFound(f"no ticket with id {ticket_id}")


class TicketController(FencedApiController):
    path = "/api/v1/tickets"
    tags = ["tickets"]

    @get(guards=[requires_scopes(TICKETS_READ)], summary="List tickets, newest first")
    async def list_tickets(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        status: FromQuery[OptionalText] = None,
        priority: FromQuery[OptionalText] = None,
        assignee: Annotated[int | None, QueryParameter(description="staff id")] = None,
        subscriber: Annotated[int | None, QueryParameter(description="subscriber id")] = None,
        q: Annotated[str, QueryParameter(description="subject, number or subscriber")] = "",
        limit: ShortLimit = 50,
        offset: Offset = 0,
    ) -> TicketPage:
        filters = queries.TicketFilters(
            status=service.parse_enum(TicketStatus, "status", status) if status else None,
            priority=service.parse_enum(TicketPriority, "priority", priority) if priority else None,
            assignee_staff_id=assignee,
            subscriber_id=subscriber,
            search=q,
            reseller_id=fence_of(principal),
        )
        tickets, total = await queries.list_tickets(
            tenant_session, filters, limit=limit, offset=offset
        )
        return TicketPage(
            items=[TicketRead.of(t) for t in tickets], total=total, limit=limit, offset=offset
        )

    @post(guards=[requires_scopes(TICKETS_WRITE)], summary="Open a ticket")
    async def open_ticket(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[TicketCreate],
    ) -> TicketRead:
        reseller_id = fence_of(principal)
        if reseller_id is not None:
            if data.subscriber_id is None:
                raise FieldError(
                    "subscriber_id", "a reseller's ticket names one of its subscribers"
                )
            if not await _owned_by(tenant_session, data.subscriber_id, reseller_id):
                raise FieldError(
                    "subscriber_id",
                    f"no subscriber with id {data.subscriber_id}",
                    status_code=HTTP_404_NOT_FOUND,
                )
        ticket = await service.open_ticket(
            tenant_session,
            subject=data.subject,
            body=data.body,
            category=data.category,
            priority=data.priority,
            subscriber_id=data.subscriber_id,
            channel=data.channel,
            author_kind=data.author_kind,
            actor=actor_of(principal),
        )
        return TicketRead.of(await service.get_thread(tenant_session, ticket.id), with_thread=True)

    @get(
        "/{ticket_id:int}",
        guards=[requires_scopes(TICKETS_READ)],
        summary="A ticket and its thread",
    )
    async def get_ticket(
        self, tenant_session: TenantSession, principal: CurrentPrincipal, ticket_id: FromPath[Id]
    ) -> TicketRead:
        await ensure_visible(tenant_session, principal, ticket_id)
        return TicketRead.of(await service.get_thread(tenant_session, ticket_id), with_thread=True)

    @post(
        "/{ticket_id:int}/messages",
        guards=[requires_scopes(TICKETS_WRITE)],
        summary="Add a message to a ticket's thread",
    )
    async def add_message(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[Id],
        data: JSONBody[MessageCreate],
    ) -> MessageRead:
        await ensure_visible(tenant_session, principal, ticket_id)
        message = await service.add_message(
            tenant_session,
            ticket_id,
            body=data.body,
            author_kind=data.author_kind,
            channel=data.channel,
            actor=actor_of(principal),
        )
        return MessageRead.of(message)

    @action("/{ticket_id:int}/assign", TICKETS_WRITE, summary="Assign a ticket to a staff member")
    async def assign(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[Id],
        data: JSONBody[AssignmentChange],
    ) -> TicketRead:
        await ensure_visible(tenant_session, principal, ticket_id)
        ticket = await service.assign(
            tenant_session, ticket_id, data.assignee_staff_id, actor=actor_of(principal)
        )
        return TicketRead.of(ticket)

    @action("/{ticket_id:int}/status", TICKETS_WRITE, summary="Move a ticket to another status")
    async def change_status(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[Id],
        data: JSONBody[StatusChange],
    ) -> TicketRead:
        await ensure_visible(tenant_session, principal, ticket_id)
        ticket = await service.change_status(
            tenant_session, ticket_id, data.status, actor=actor_of(principal)
        )
        return TicketRead.of(ticket)
