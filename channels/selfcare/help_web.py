"""/me: the devices on the subscriber's hotspot logins (removed after a confirmation), and
their tickets (opened, read, replied to)."""

from __future__ import annotations

from functools import partial

from kiunga.channels.selfcare.me import Signed, signed, signed_form
from kiunga.channels.selfcare.pages import MeController
from kiunga.channels.selfservice import tickets, usage
from kiunga.platform.errors import DomainError, Kind
from kiunga.platform.web.dependencies import CurrentTenant, Services
from litestar import Request, Response, get, post
from litestar.params import FromPath


class HelpController(MeController):
    # --- devices --------------------------------------------------------------------------

    @get("/devices")
    async def devices(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._devices_page(me)

    async def _devices_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            found = await usage.devices(session, me.subscriber_id)
        context.setdefault("confirm", None)
        return me.render(
            "devices.html", "/me/devices", status_code=status_code, devices=found, **context
        )

    @get("/devices/remove")
    async def remove_form(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        service_id = (request.query_params.get("service_id") or "")[:20]
        mac = (request.query_params.get("mac") or "")[:20].upper()
        async with me.session() as session:
            found = await usage.devices(session, me.subscriber_id)
        match = next((d for d in found if str(d.service_id) == service_id and d.mac == mac), None)
        if match is None:
            return await self._devices_page(me, status_code=404, error=me.page.t("not_found"))
        return await self._devices_page(me, confirm=match)

    @post("/devices/remove", status_code=200)
    async def remove(self, request: Request, tenant: CurrentTenant, services: Services) -> Response:
        posted = await signed_form(
            request, services, tenant,
            fields={"service_id": 20, "mac": 20}, again=self._devices_page,
        )  # fmt: skip
        if isinstance(posted, Response):
            return posted
        me, page, raw, mac = posted.me, posted.page, posted["service_id"], posted["mac"]
        try:
            async with me.session() as session, session.begin():
                removed = await usage.remove_device(
                    session,
                    subscriber_id=me.subscriber_id,
                    service_id=int(raw) if raw.isdigit() else -1,
                    mac=mac,
                )
        except DomainError as error:
            return await self._devices_page(me, status_code=error.status_code, error=error.message)
        return await self._devices_page(me, notice=page.t("removed", mac=removed.mac))

    # --- tickets --------------------------------------------------------------------------

    async def _tickets_page(self, me: Signed, *, status_code=200, **context) -> Response:
        async with me.session() as session:
            found = await tickets.open_tickets(session, me.subscriber_id, include_finished=True)
        context.setdefault("category", "connectivity")
        context.setdefault("text", "")
        return me.render(
            "tickets.html",
            "/me/tickets",
            status_code=status_code,
            tickets=found,
            categories=tickets.CATEGORIES,
            **context,
        )

    @get("/tickets")
    async def tickets_list(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._tickets_page(me)

    @post("/tickets", status_code=200)
    async def open_ticket(
        self, request: Request, tenant: CurrentTenant, services: Services
    ) -> Response:
        posted = await signed_form(
            request, services, tenant,
            fields={"category": 20, "text": tickets.MAX_TEXT + 1},
            again=self._tickets_page, echo=("category", "text"),
        )  # fmt: skip
        if isinstance(posted, Response):
            return posted
        me, page, category, text = posted.me, posted.page, posted["category"], posted["text"]
        if not text:
            return await self._tickets_page(
                me, status_code=400, category=category, text=text, error=page.t("text_missing")
            )
        try:
            async with me.session() as session, session.begin():
                opened = await tickets.report_problem(
                    session,
                    subscriber_id=me.subscriber_id,
                    phone=me.phone,
                    category=category,
                    text=text,
                    channel="web",
                )
        except DomainError as error:
            return await self._tickets_page(
                me, status_code=400, category=category, text=text, error=error.message
            )
        return await self._tickets_page(me, notice=page.t("ticket_opened", ticket=opened.reference))

    async def _thread_page(
        self, me: Signed, number: int, *, status_code=200, **context
    ) -> Response:
        try:
            async with me.session() as session:
                thread = await tickets.ticket_thread(session, me.subscriber_id, number)
        except DomainError:
            return await self._tickets_page(me, status_code=404, error=me.page.t("not_found"))
        context.setdefault("text", "")
        return me.render(
            "ticket.html", "/me/tickets", status_code=status_code, thread=thread, **context
        )

    @get("/tickets/{number:int}")
    async def ticket(
        self, request: Request, tenant: CurrentTenant, services: Services, number: FromPath[int]
    ) -> Response:
        me = await signed(request, services, tenant)
        if isinstance(me, Response):
            return me
        return await self._thread_page(me, number)

    @post("/tickets/{number:int}/reply", status_code=200)
    async def reply(
        self, request: Request, tenant: CurrentTenant, services: Services, number: FromPath[int]
    ) -> Response:
        posted = await signed_form(
            request, services, tenant,
            fields={"text": tickets.MAX_TEXT + 1},
            again=partial(self._thread_page, number=number), echo=("text",),
        )  # fmt: skip
        if isinstance(posted, Response):
            return posted
        me, text = posted.me, posted["text"]
        try:
            async with me.session() as session, session.begin():
                await tickets.reply_to_ticket(
                    session,
                    subscriber_id=me.subscriber_id,
                    phone=me.phone,
                    reference=number,
                    text=text,
                    channel="web",
                )
        except DomainError as error:
            status = 404 if error.kind is Kind.NOT_FOUND else 400
            return await self._thread_page(
                me, number, status_code=status, text=text, error=error.message
            )
        return await self._thread_page(me, number)
