"""/api/v1/tickets: support tickets and their threads, for API keys and console sessions."""

from __future__ import annotations

from typing import Annotated

from kiunga.platform.auth.principals import ApiKeyPrincipal, Principal, StaffPrincipal
from kiunga.platform.auth.scopes import TICKETS_READ, TICKETS_WRITE
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.errors import Conflict, FieldError
from kiunga.platform.web.guards import requires_scopes, tenant_only
from kiunga.tenants.actors import SYSTEM, Actor
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
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

MAX_PAGE_SIZE = 200


def actor_of(principal: Principal | None) -> Actor:
    if isinstance(principal, StaffPrincipal):
        return Actor.staff(principal.staff_id, principal.email)
    if isinstance(principal, ApiKeyPrincipal):
        return Actor.api_key(principal.prefix)
    return SYSTEM


def http_error(exc: Exception) -> Exception:
    if isinstance(exc, service.TransitionNotAllowed):
        return Conflict(exc.field, exc.message)
    if isinstance(exc, service.TicketError):
        return FieldError(exc.field, exc.message)
    if isinstance(exc, service.TicketNotFound):
        return NotFoundException(str(exc))
    return exc


TICKET_ERRORS = (service.TicketError, service.TicketNotFound)


class TicketController(Controller):
    path = "/api/v1/tickets"
    tags = ["tickets"]
    guards = [tenant_only]
    security = [{"BearerAuth": []}]

    @get(guards=[requires_scopes(TICKETS_READ)], summary="List tickets, newest first")
    async def list_tickets(
        self,
        tenant_session: TenantSession,
        status: FromQuery[str | None] = None,
        priority: FromQuery[str | None] = None,
        assignee: Annotated[int | None, QueryParameter(description="staff id")] = None,
        subscriber: Annotated[int | None, QueryParameter(description="subscriber id")] = None,
        q: Annotated[str, QueryParameter(description="subject, number or subscriber")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> TicketPage:
        try:
            filters = queries.TicketFilters(
                status=service.parse_enum(TicketStatus, "status", status) if status else None,
                priority=service.parse_enum(TicketPriority, "priority", priority)
                if priority
                else None,
                assignee_staff_id=assignee,
                subscriber_id=subscriber,
                search=q,
            )
        except service.TicketError as exc:
            raise http_error(exc) from exc
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
        try:
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
            return TicketRead.of(
                await service.get_thread(tenant_session, ticket.id), with_thread=True
            )
        except TICKET_ERRORS as exc:
            raise http_error(exc) from exc

    @get(
        "/{ticket_id:int}",
        guards=[requires_scopes(TICKETS_READ)],
        summary="A ticket and its thread",
    )
    async def get_ticket(
        self, tenant_session: TenantSession, ticket_id: FromPath[int]
    ) -> TicketRead:
        try:
            return TicketRead.of(
                await service.get_thread(tenant_session, ticket_id), with_thread=True
            )
        except TICKET_ERRORS as exc:
            raise http_error(exc) from exc

    @post(
        "/{ticket_id:int}/messages",
        guards=[requires_scopes(TICKETS_WRITE)],
        summary="Add a message to a ticket's thread",
    )
    async def add_message(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[int],
        data: JSONBody[MessageCreate],
    ) -> MessageRead:
        try:
            message = await service.add_message(
                tenant_session,
                ticket_id,
                body=data.body,
                author_kind=data.author_kind,
                channel=data.channel,
                actor=actor_of(principal),
            )
        except TICKET_ERRORS as exc:
            raise http_error(exc) from exc
        return MessageRead.of(message)

    @post(
        "/{ticket_id:int}/assign",
        guards=[requires_scopes(TICKETS_WRITE)],
        summary="Assign a ticket to a staff member",
        status_code=200,
    )
    async def assign(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[int],
        data: JSONBody[AssignmentChange],
    ) -> TicketRead:
        try:
            ticket = await service.assign(
                tenant_session, ticket_id, data.assignee_staff_id, actor=actor_of(principal)
            )
        except TICKET_ERRORS as exc:
            raise http_error(exc) from exc
        return TicketRead.of(ticket)

    @post(
        "/{ticket_id:int}/status",
        guards=[requires_scopes(TICKETS_WRITE)],
        summary="Move a ticket to another status",
        status_code=200,
    )
    async def change_status(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        ticket_id: FromPath[int],
        data: JSONBody[StatusChange],
    ) -> TicketRead:
        try:
            ticket = await service.change_status(
                tenant_session, ticket_id, data.status, actor=actor_of(principal)
            )
        except TICKET_ERRORS as exc:
            raise http_error(exc) from exc
        return TicketRead.of(ticket)
