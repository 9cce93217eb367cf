"""The console's ticket pages: a filtered list with a form to open a ticket, and one ticket
with its thread, a reply box, and status and assignee controls (htmx swaps the section)."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.pagination import requested_page
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.tickets import queries, service
from kiunga.tenants.tickets.api import actor_of
from kiunga.tenants.tickets.models import (
    Channel,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from kiunga.tenants.tickets.scopes import TICKETS_READ, TICKETS_WRITE
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy import select

PAGE_SIZE = 50
CHOICES = {
    "statuses": [s.value for s in TicketStatus],
    "priorities": [p.value for p in TicketPriority],
    "categories": [c.value for c in TicketCategory],
}


@dataclass
class OpenTicketForm:
    subject: str = ""
    category: str = "connectivity"
    priority: str = "normal"
    account_number: str = ""
    body: str = ""


@dataclass
class ReplyForm:
    body: str = ""


@dataclass
class StatusForm:
    status: str = ""


@dataclass
class AssignForm:
    # "" takes the ticket off everyone.
    assignee_staff_id: str = ""


def _can_write(request: Request) -> bool:
    principal = request.user
    return isinstance(principal, StaffPrincipal) and TICKETS_WRITE in principal.scopes


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


async def _render_list(request, session, *, form=None, errors=None, status_code=200):
    query = request.query_params
    status = query.get("status", "")
    priority = query.get("priority", "")
    assignee = query.get("assignee", "")
    filters = queries.TicketFilters(
        status=TicketStatus(status) if status in CHOICES["statuses"] else None,
        priority=TicketPriority(priority) if priority in CHOICES["priorities"] else None,
        # "none": tickets nobody has taken yet
        assignee_staff_id=_number(assignee),
        unassigned=assignee == "none",
        subscriber_id=_number(query.get("subscriber_id")),
        search=query.get("q", ""),
    )
    kept = {
        "q": filters.search,
        "status": filters.status.value if filters.status else "",
        "priority": filters.priority.value if filters.priority else "",
        "assignee": "none" if filters.unassigned else str(filters.assignee_staff_id or ""),
        "subscriber_id": str(filters.subscriber_id or ""),
    }
    pages = requested_page(request, PAGE_SIZE, keep=kept, path="/tickets")
    tickets, total = await queries.list_tickets(
        session, filters, limit=pages.limit, offset=pages.offset
    )
    pages = pages.counted(total)
    if tickets == [] and pages.past_the_end and total:
        pages = pages.last()  # past the end: show the last page
        tickets, total = await queries.list_tickets(
            session, filters, limit=pages.limit, offset=pages.offset
        )
        pages = pages.counted(total)
    subscriber = None
    if filters.subscriber_id is not None:
        subscriber = await session.get(Subscriber, filters.subscriber_id)
    staff = await service.staff_members(session)
    template = "tickets/_list.html" if request.headers.get("hx-request") else "tickets/index.html"
    return page(
        request,
        template,
        status_code=status_code,
        tickets=tickets,
        total=total,
        filters=filters,
        assignee=kept["assignee"],
        subscriber=subscriber,
        staff_members=staff,
        pages=pages,
        form=form or OpenTicketForm(),
        errors=errors or {},
        can_write=_can_write(request),
        **CHOICES,
    )


async def _render_ticket(request, session, ticket_id, *, errors=None, status_code=200):
    ticket = await service.get_thread(session, ticket_id)
    staff = await service.staff_members(session)
    subscriber = None
    if ticket.subscriber_id is not None:
        subscriber = await session.get(Subscriber, ticket.subscriber_id)
    template = (
        "tickets/_ticket.html" if request.headers.get("hx-request") else "tickets/detail.html"
    )
    return page(
        request,
        template,
        status_code=status_code,
        ticket=ticket,
        subscriber=subscriber,
        staff_members=staff,
        staff_names={s.id: s.name or s.email for s in staff},
        allowed_statuses=sorted(s.value for s in service.ALLOWED_TRANSITIONS[ticket.status]),
        errors=errors or {},
        can_write=_can_write(request) and ticket.status is not TicketStatus.CLOSED,
    )


class TicketsPageController(Controller):
    path = "/tickets"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(TICKETS_READ)]

    @get()
    async def tickets_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render_list(request, tenant_session)

    @post(guards=[requires_scopes(TICKETS_WRITE)])
    async def open_ticket(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[OpenTicketForm]
    ) -> Response:
        subscriber_id = None
        account = data.account_number.strip().upper()
        if account:
            subscriber_id = await tenant_session.scalar(
                select(Subscriber.id).where(Subscriber.account_number == account)
            )
            if subscriber_id is None:
                errors = {"account_number": f"no subscriber with account {account}"}
                return await _render_list(
                    request, tenant_session, form=data, errors=errors, status_code=400
                )
        try:
            ticket = await service.open_ticket(
                tenant_session,
                subject=data.subject,
                body=data.body,
                category=data.category,
                priority=data.priority,
                subscriber_id=subscriber_id,
                channel=Channel.WEB,
                actor=actor_of(request.user),
            )
        except service.TicketError as exc:
            return await _render_list(
                request, tenant_session, form=data, errors=exc.form_errors(), status_code=400
            )
        target = f"/tickets/{ticket.id}"
        if request.headers.get("hx-request"):
            return Response(content="", status_code=201, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)

    @get("/{ticket_id:int}")
    async def ticket_page(
        self, request: Request, tenant_session: TenantSession, ticket_id: FromPath[Id]
    ) -> Response:
        return await _render_ticket(request, tenant_session, ticket_id)

    @post("/{ticket_id:int}/messages", guards=[requires_scopes(TICKETS_WRITE)])
    async def reply(
        self,
        request: Request,
        tenant_session: TenantSession,
        ticket_id: FromPath[Id],
        data: URLEncodedBody[ReplyForm],
    ) -> Response:
        return await self._act(
            request,
            tenant_session,
            ticket_id,
            service.add_message(
                tenant_session, ticket_id, body=data.body, actor=actor_of(request.user)
            ),
            created=True,
        )

    @post("/{ticket_id:int}/status", guards=[requires_scopes(TICKETS_WRITE)])
    async def change_status(
        self,
        request: Request,
        tenant_session: TenantSession,
        ticket_id: FromPath[Id],
        data: URLEncodedBody[StatusForm],
    ) -> Response:
        action = service.change_status(
            tenant_session, ticket_id, data.status, actor=actor_of(request.user)
        )
        return await self._act(request, tenant_session, ticket_id, action)

    @post("/{ticket_id:int}/assign", guards=[requires_scopes(TICKETS_WRITE)])
    async def assign(
        self,
        request: Request,
        tenant_session: TenantSession,
        ticket_id: FromPath[Id],
        data: URLEncodedBody[AssignForm],
    ) -> Response:
        raw = data.assignee_staff_id.strip()
        if raw and not raw.isdigit():
            errors = {"assignee_staff_id": "choose a staff member"}
            return await _render_ticket(
                request, tenant_session, ticket_id, errors=errors, status_code=400
            )
        staff_id = int(raw) if raw else None
        action = service.assign(tenant_session, ticket_id, staff_id, actor=actor_of(request.user))
        return await self._act(request, tenant_session, ticket_id, action)

    @staticmethod
    async def _act(request, session, ticket_id, action, *, created=False) -> Response:
        try:
            await action
        except service.TicketError as exc:
            return await _render_ticket(
                request,
                session,
                ticket_id,
                errors=exc.form_errors(),
                status_code=exc.status_code,
            )
        if not request.headers.get("hx-request"):
            # Without JavaScript: post, then redirect, so a reload does not post again.
            return Redirect(f"/tickets/{ticket_id}", status_code=303)
        return await _render_ticket(
            request, session, ticket_id, status_code=201 if created else 200
        )
