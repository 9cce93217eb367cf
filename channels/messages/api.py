"""/api/v1/messages, /api/v1/subscribers/{id}/messages, /api/v1/message-templates and
/api/v1/campaigns: the message log, the ISP's templates and bulk messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from kiunga.channels.messages import campaigns, queries, templates
from kiunga.channels.messages.models import Message, MessageTemplate
from kiunga.channels.messages.scopes import MESSAGES_READ, MESSAGES_WRITE
from kiunga.platform.errors import DomainError, NotFoundError
from kiunga.platform.web.controllers import TenantApiController
from kiunga.platform.web.dependencies import CurrentPrincipal, TenantSession
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Id, Offset, OptionalText, Text
from kiunga.platform.web.pagination import ShortLimit
from kiunga.tenants.subscribers.models import Subscriber
from litestar import get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, Parameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

KindName = Annotated[str, Parameter(pattern=r"^[a-z_]{1,40}$")]
LanguageCode = Annotated[str, Parameter(pattern=r"^[a-z]{2,8}$")]


class MessageRead(msgspec.Struct):
    id: int
    direction: str
    channel: str
    phone: str
    subscriber_id: int | None
    kind: str
    body: str
    language: str | None
    status: str
    segments: int
    attempts: int
    provider_id: str | None
    cost: str | None
    failure_reason: str | None
    last_error: str | None
    fallback_of: int | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, m: Message) -> MessageRead:
        return cls(
            id=m.id, direction=m.direction.value, channel=m.channel.value, phone=m.phone,
            subscriber_id=m.subscriber_id, kind=m.kind, body=queries.body_for_staff(m),
            language=m.language,
            status=m.status.value, segments=m.segments, attempts=m.attempts,
            provider_id=m.provider_id,
            cost=queries.format_cost(m.cost_micros, m.cost_currency) or None,
            failure_reason=m.failure_reason, last_error=m.last_error, fallback_of=m.fallback_of,
            created_at=m.created_at, sent_at=m.sent_at, delivered_at=m.delivered_at,
        )  # fmt: skip


class MessagePage(msgspec.Struct):
    items: list[MessageRead]
    total: int
    limit: int
    offset: int


class TemplateRead(msgspec.Struct):
    kind: str
    language: str
    body: str
    # True: the ISP's own wording; False: the catalogue's.
    custom: bool
    placeholders: list[str]
    preview: str
    segments: int
    encoding: str


class TemplateWrite(msgspec.Struct, forbid_unknown_fields=True):
    body: Text


class CampaignCreate(msgspec.Struct, forbid_unknown_fields=True):
    body: Text
    kind: Text = "campaign"
    name: Text = ""
    status: Text | None = None
    site_id: Id | None = None
    package_id: Id | None = None


class CampaignRead(msgspec.Struct):
    id: int
    kind: str
    name: str
    body: str
    audience: dict
    recipients: int
    created_by: str
    created_at: datetime


async def template_view(session: AsyncSession, kind: str, language: str) -> TemplateRead:
    from kiunga.channels.messages.segments import count_segments

    if kind not in templates.KINDS:
        raise NotFoundError(f"no notification kind {kind!r}", field="kind")
    if language not in templates.languages():
        raise NotFoundError(f"no catalogue for language {language!r}", field="language")
    own = await session.get(MessageTemplate, (kind, language))
    body = own.body if own else templates.catalogue_text(kind, language)
    preview = templates.render_text(body, templates.sample_values(kind))
    count = count_segments(preview)
    return TemplateRead(
        kind=kind, language=language, body=body, custom=own is not None,
        placeholders=list(templates.placeholders(kind)), preview=preview,
        segments=count.count, encoding=count.encoding,
    )  # fmt: skip


async def save_template(session: AsyncSession, kind: str, language: str, body: str) -> None:
    if language not in templates.languages():
        raise DomainError("language", f"no catalogue for language {language!r}")
    body = templates.check_template(kind, body)
    own = await session.get(MessageTemplate, (kind, language))
    if own is None:
        session.add(MessageTemplate(kind=kind, language=language, body=body))
    else:
        own.body = body
    await session.flush()


def _who(principal) -> str:
    return getattr(principal, "email", None) or f"api key {getattr(principal, 'prefix', '?')}"


class MessagesController(TenantApiController):
    path = "/api/v1"
    tags = ["messages"]

    @get("/messages", guards=[requires_scopes(MESSAGES_READ)], summary="The message log")
    async def list_messages(
        self,
        tenant_session: TenantSession,
        status: FromQuery[OptionalText] = None,
        channel: FromQuery[OptionalText] = None,
        direction: FromQuery[OptionalText] = None,
        phone: FromQuery[OptionalText] = None,
        q: Annotated[str, QueryParameter(description="text, phone, kind or provider id")] = "",
        limit: ShortLimit = 50,
        offset: Offset = 0,
    ) -> MessagePage:
        filters = queries.parse_filters(
            status=status, channel=channel, direction=direction, phone=phone, search=q
        )
        rows, total = await queries.list_messages(
            tenant_session, filters, limit=limit, offset=offset
        )
        return MessagePage([MessageRead.of(m) for m in rows], total, limit, offset)

    @get(
        "/subscribers/{subscriber_id:int}/messages",
        guards=[requires_scopes(MESSAGES_READ)],
        summary="A subscriber's messages, in and out",
    )
    async def subscriber_messages(
        self,
        tenant_session: TenantSession,
        subscriber_id: FromPath[Id],
        limit: ShortLimit = 50,
        offset: Offset = 0,
    ) -> MessagePage:
        if await tenant_session.get(Subscriber, subscriber_id) is None:
            raise NotFoundError(f"no subscriber with id {subscriber_id}", field="subscriber_id")
        filters = queries.MessageFilters(subscriber_id=subscriber_id)
        rows, total = await queries.list_messages(
            tenant_session, filters, limit=limit, offset=offset
        )
        return MessagePage([MessageRead.of(m) for m in rows], total, limit, offset)

    @get(
        "/message-templates",
        guards=[requires_scopes(MESSAGES_READ)],
        summary="Every notification kind's text in every language",
    )
    async def list_templates(self, tenant_session: TenantSession) -> list[TemplateRead]:
        return [
            await template_view(tenant_session, kind, language)
            for kind in templates.KINDS
            for language in templates.languages()
        ]

    @get(
        "/message-templates/{kind:str}/{language:str}",
        guards=[requires_scopes(MESSAGES_READ)],
        summary="One notification's text in one language",
    )
    async def get_template(
        self,
        tenant_session: TenantSession,
        kind: FromPath[KindName],
        language: FromPath[LanguageCode],
    ) -> TemplateRead:
        return await template_view(tenant_session, kind, language)

    @put(
        "/message-templates/{kind:str}/{language:str}",
        guards=[requires_scopes(MESSAGES_WRITE)],
        summary="Set the ISP's own text of one notification in one language",
    )
    async def put_template(
        self,
        tenant_session: TenantSession,
        kind: FromPath[KindName],
        language: FromPath[LanguageCode],
        data: JSONBody[TemplateWrite],
    ) -> TemplateRead:
        await save_template(tenant_session, kind, language, data.body)
        return await template_view(tenant_session, kind, language)

    @post(
        "/campaigns",
        guards=[requires_scopes(MESSAGES_WRITE)],
        summary="Send a campaign (opt-outs left out) or an outage notice",
    )
    async def create_campaign(
        self,
        tenant_session: TenantSession,
        principal: CurrentPrincipal,
        data: JSONBody[CampaignCreate],
    ) -> CampaignRead:
        campaign = await campaigns.send_campaign(
            tenant_session,
            kind=data.kind,
            name=data.name,
            body=data.body,
            audience=campaigns.Audience(
                status=data.status, site_id=data.site_id, package_id=data.package_id
            ),
            created_by=_who(principal),
        )
        return CampaignRead(
            id=campaign.id, kind=campaign.kind, name=campaign.name, body=campaign.body,
            audience=campaign.audience, recipients=campaign.recipients,
            created_by=campaign.created_by, created_at=campaign.created_at,
        )  # fmt: skip
