"""Bulk messages: a campaign to a filtered list of subscribers, and an outage notice to
every subscriber of a site.

A campaign leaves out the phones that opted out of marketing (ChannelContact); an outage
notice is service news and goes to everyone. Each recipient's message is queued in the
same transaction as the campaign row, one per subscriber (dedupe key
`campaign:<id>:<subscriber>`), so a campaign is sent whole or not at all, and `{name}` in
its text becomes each subscriber's first name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiunga.channels.messages.models import Campaign, ChannelContact
from kiunga.channels.messages.outbound import Outgoing, queue_many
from kiunga.channels.messages.templates import render_text
from kiunga.platform.errors import DomainError
from kiunga.tenants.services.models import Service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus
from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

KINDS = ("campaign", "outage")
MAX_BODY = 918  # six GSM-7 segments


@dataclass(frozen=True)
class Audience:
    status: str | None = None
    site_id: int | None = None
    package_id: int | None = None
    statuses: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("status", self.status), ("site_id", self.site_id),
                                  ("package_id", self.package_id)) if v is not None}  # fmt: skip


def _primary_phone():
    return (
        select(SubscriberPhone.phone)
        .where(SubscriberPhone.subscriber_id == Subscriber.id)
        .order_by(SubscriberPhone.is_primary.desc(), SubscriberPhone.id)
        .limit(1)
        .scalar_subquery()
    )


def audience_query(kind: str, audience: Audience) -> Select:
    """(subscriber id, first name source, phone) of everyone the message goes to."""
    phone = _primary_phone()
    query = select(Subscriber.id, Subscriber.name, phone.label("phone")).where(
        Subscriber.status != SubscriberStatus.TERMINATED
    )
    if audience.status:
        if audience.status not in {s.value for s in SubscriberStatus}:
            raise DomainError("status", f"no subscriber status {audience.status!r}")
        query = query.where(Subscriber.status == audience.status)
    if audience.site_id is not None:
        query = query.where(Subscriber.site_id == audience.site_id)
    if audience.package_id is not None:
        query = query.where(
            exists().where(
                Service.subscriber_id == Subscriber.id,
                Service.package_id == audience.package_id,
            )
        )
    return query.where(phone.is_not(None)).order_by(Subscriber.id)


async def recipients(
    session: AsyncSession, kind: str, audience: Audience
) -> list[tuple[int, str, str]]:
    """(subscriber id, name, phone) of everyone it goes to: a campaign leaves out the
    phones that opted out of marketing."""
    rows = [tuple(row) for row in (await session.execute(audience_query(kind, audience))).all()]
    if kind != "campaign" or not rows:
        return rows
    opted_out = set(
        await session.scalars(
            select(ChannelContact.phone).where(ChannelContact.marketing_opt_out.is_(True))
        )
    )
    return [row for row in rows if row[2] not in opted_out]


def _first_name(full_name: str | None) -> str:
    return full_name.split()[0] if full_name and full_name.strip() else ""


async def count_recipients(session: AsyncSession, kind: str, audience: Audience) -> int:
    return len(await recipients(session, kind, audience))


def _check(kind: str, name: str, body: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise DomainError("kind", "a campaign or an outage notice")
    name, body = name.strip(), body.strip()
    if "\x00" in name or "\x00" in body:
        raise DomainError("body", "NUL bytes are refused")
    if not body:
        raise DomainError("body", "write the message")
    if len(body) > MAX_BODY:
        raise DomainError("body", f"at most {MAX_BODY} characters")
    if len(name) > 200:
        raise DomainError("name", "at most 200 characters")
    return name or body[:60], body


async def send_campaign(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    body: str,
    audience: Audience,
    created_by: str,
) -> Campaign:
    """Record the campaign and queue one message per recipient, in the caller's transaction.
    A campaign waits for the end of quiet hours; an outage notice goes at once."""
    name, body = _check(kind, name, body)
    campaign = Campaign(
        kind=kind,
        name=name,
        body=body,
        audience=audience.as_dict(),
        recipients=0,
        created_by=created_by[:200],
    )
    session.add(campaign)
    await session.flush()
    items = [
        Outgoing(
            phone=phone,
            body=render_text(body, {"name": _first_name(full_name)}),
            kind=kind,
            subscriber_id=subscriber_id,
            urgent=kind == "outage",
            dedupe_key=f"campaign:{campaign.id}:{subscriber_id}",
            campaign_id=campaign.id,
        )
        for subscriber_id, full_name, phone in await recipients(session, kind, audience)
    ]
    queued_count = await queue_many(session, items)
    campaign.recipients = queued_count
    await session.flush()
    await session.refresh(campaign)
    return campaign
