"""The console's "Messages" page: this month's totals, the message log (filtered by
status, channel and phone, searched, and by subscriber from the subscriber's page), the
template editor (each kind × language, a preview with sample values and its character
and segment count), and campaigns and outage notices (compose, count the recipients,
confirm, send)."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.channels.messages import api, campaigns, queries, templates
from kiunga.channels.messages.api import KindName, LanguageCode
from kiunga.channels.messages.scopes import MESSAGES_READ, MESSAGES_WRITE
from kiunga.channels.messages.segments import count_segments
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.errors import DomainError, NotFoundError
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.pagination import requested_page
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.sites.models import Site
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy import select

PAGE_SIZE = 50


def _can_write(request: Request) -> bool:
    principal = request.user
    return isinstance(principal, StaffPrincipal) and MESSAGES_WRITE in principal.scopes


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


@dataclass
class TemplateForm:
    body: str = ""
    action: str = "preview"  # preview | save


@dataclass
class CampaignForm:
    kind: str = "campaign"
    name: str = ""
    body: str = ""
    status: str = ""
    site_id: str = ""
    package_id: str = ""
    # Set by the confirmation step: the count the sender saw, and their yes.
    confirm: str = ""


async def _choices(session) -> dict:
    sites = (await session.execute(select(Site.id, Site.name).order_by(Site.name))).all()
    packages = (
        await session.execute(select(Package.id, Package.name).order_by(Package.name))
    ).all()
    return {
        "sites": sites,
        "packages": packages,
        "subscriber_statuses": [s.value for s in SubscriberStatus],
    }


class MessagesPageController(Controller):
    path = "/messages"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(MESSAGES_READ)]

    @get()
    async def messages_page(self, request: Request, tenant_session: TenantSession) -> Response:
        query = request.query_params
        try:
            filters = queries.parse_filters(
                status=query.get("status"),
                channel=query.get("channel"),
                phone=query.get("phone"),
                subscriber_id=_number(query.get("subscriber_id")),
                search=query.get("q"),
            )
            error = None
        except DomainError as exc:
            filters, error = queries.MessageFilters(), exc.message
        kept = {
            "q": filters.search,
            "status": filters.status.value if filters.status else "",
            "channel": filters.channel.value if filters.channel else "",
            "phone": filters.phone or "",
            "subscriber_id": str(filters.subscriber_id or ""),
        }
        pages = requested_page(request, PAGE_SIZE, keep=kept, path="/messages")
        rows, total = await queries.list_messages(
            tenant_session, filters, limit=pages.limit, offset=pages.offset
        )
        subscriber = None
        if filters.subscriber_id is not None:
            subscriber = await tenant_session.get(Subscriber, filters.subscriber_id)
        return page(
            request,
            "messages/index.html",
            totals=await queries.month_totals(tenant_session),
            messages=rows,
            staff_body=queries.body_for_staff,
            total=total,
            pages=pages.counted(total),
            filters=filters,
            kept=kept,
            subscriber=subscriber,
            error=error,
            statuses=[s.value for s in queries.MessageStatus],
            channels=[c.value for c in queries.MessageChannel],
            kinds=list(templates.KINDS),
            languages=templates.languages(),
            can_write=_can_write(request),
            format_cost=queries.format_cost,
        )

    # ------------------------------------------------------------ templates

    async def _template(
        self, request, session, kind, language, *, body=None, errors=None, saved=False,
        status_code=200,
    ) -> Response:  # fmt: skip
        view = await api.template_view(session, kind, language)
        text = view.body if body is None else body
        preview = templates.render_text(text, templates.sample_values(kind))
        count = count_segments(preview)
        return page(
            request,
            "messages/template.html",
            status_code=status_code,
            view=view,
            body=text,
            preview=preview,
            count=count,
            characters=len(preview),
            errors=errors or {},
            saved=saved,
            languages=templates.languages(),
            can_write=_can_write(request),
        )

    @get("/templates/{kind:str}/{language:str}")
    async def template_page(
        self,
        request: Request,
        tenant_session: TenantSession,
        kind: FromPath[KindName],
        language: FromPath[LanguageCode],
    ) -> Response:
        return await self._template(request, tenant_session, kind, language)

    @post("/templates/{kind:str}/{language:str}", guards=[requires_scopes(MESSAGES_WRITE)])
    async def template_save(
        self,
        request: Request,
        tenant_session: TenantSession,
        kind: FromPath[KindName],
        language: FromPath[LanguageCode],
        data: URLEncodedBody[TemplateForm],
    ) -> Response:
        try:
            body = templates.check_template(kind, data.body)
        except DomainError as exc:
            return await self._template(
                request, tenant_session, kind, language, body=data.body,
                errors=exc.form_errors(), status_code=400,
            )  # fmt: skip
        if data.action != "save":
            return await self._template(request, tenant_session, kind, language, body=body)
        await api.save_template(tenant_session, kind, language, body)
        return await self._template(request, tenant_session, kind, language, saved=True)

    # ------------------------------------------------------------ campaigns

    async def _campaign(self, request, session, form, *, count=None, errors=None,
                        sent=None, status_code=200) -> Response:  # fmt: skip
        return page(
            request,
            "messages/campaign.html",
            status_code=status_code,
            form=form,
            count=count,
            errors=errors or {},
            sent=sent,
            segments=count_segments(form.body) if form.body else None,
            can_write=_can_write(request),
            **await _choices(session),
        )

    @get("/campaigns/new")
    async def campaign_page(self, request: Request, tenant_session: TenantSession) -> Response:
        form = CampaignForm(
            kind="outage" if request.query_params.get("kind") == "outage" else "campaign",
            site_id=request.query_params.get("site_id", "")[:18],
        )
        return await self._campaign(request, tenant_session, form)

    @post("/campaigns", guards=[requires_scopes(MESSAGES_WRITE)])
    async def campaign_send(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[CampaignForm]
    ) -> Response:
        audience = campaigns.Audience(
            status=data.status or None,
            site_id=_number(data.site_id),
            package_id=_number(data.package_id),
        )
        try:
            if data.kind == "outage" and audience.site_id is None:
                raise DomainError("site_id", "choose the site the outage is at")
            campaigns._check(data.kind, data.name, data.body)
            count = await campaigns.count_recipients(tenant_session, data.kind, audience)
        except DomainError as exc:
            return await self._campaign(
                request, tenant_session, data, errors=exc.form_errors(), status_code=400
            )
        if data.confirm != str(count):
            # First the count, then the yes: nothing goes before the sender saw who gets it.
            return await self._campaign(request, tenant_session, data, count=count)
        campaign = await campaigns.send_campaign(
            tenant_session,
            kind=data.kind,
            name=data.name,
            body=data.body,
            audience=audience,
            created_by=getattr(request.user, "email", "staff"),
        )
        return Redirect(f"/messages/campaigns/{campaign.id}", status_code=303)

    @get("/campaigns/{campaign_id:int}")
    async def campaign_sent(
        self, request: Request, tenant_session: TenantSession, campaign_id: FromPath[Id]
    ) -> Response:
        from kiunga.channels.messages.models import Campaign

        campaign = await tenant_session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign {campaign_id}", field="campaign_id")
        return page(request, "messages/campaign_sent.html", campaign=campaign)
