"""Reading the message log: filtered pages, a subscriber's messages, and this month's
totals for the messaging page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from kiunga.channels.messages.models import Direction, Message, MessageChannel, MessageStatus
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import DomainError
from kiunga.tenants.zones import tenant_zone
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class MessageFilters:
    status: MessageStatus | None = None
    channel: MessageChannel | None = None
    direction: Direction | None = None
    phone: str | None = None
    subscriber_id: int | None = None
    search: str = ""


def parse_filters(
    *,
    status: str | None = None,
    channel: str | None = None,
    direction: str | None = None,
    phone: str | None = None,
    subscriber_id: int | None = None,
    search: str | None = None,
) -> MessageFilters:
    def member(enum, field, value):
        if not value:
            return None
        try:
            return enum(value)
        except ValueError:
            choices = ", ".join(m.value for m in enum)
            raise DomainError(field, f"{value!r} is not one of {choices}") from None

    search = (search or "").strip()
    if "\x00" in search or len(search) > 100:
        raise DomainError("q", "search is at most 100 characters, without NUL")
    phone = (phone or "").strip() or None
    if phone is not None and (len(phone) > 16 or "\x00" in phone):
        raise DomainError("phone", "a phone number is at most 16 characters")
    return MessageFilters(
        status=member(MessageStatus, "status", status),
        channel=member(MessageChannel, "channel", channel),
        direction=member(Direction, "direction", direction),
        phone=phone,
        subscriber_id=subscriber_id,
        search=search,
    )


# Kinds whose text is a secret of the subscriber's (a sign-in code): staff see it masked.
SECRET_KINDS = frozenset({"sign_in_code"})


def _filtered(filters: MessageFilters) -> Select:
    query = select(Message)
    if filters.status is not None:
        query = query.where(Message.status == filters.status)
    if filters.channel is not None:
        query = query.where(Message.channel == filters.channel)
    if filters.direction is not None:
        query = query.where(Message.direction == filters.direction)
    if filters.phone:
        query = query.where(Message.phone == filters.phone)
    if filters.subscriber_id is not None:
        query = query.where(Message.subscriber_id == filters.subscriber_id)
    if filters.search:
        pattern = (
            "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                # A secret's text is not searchable either: a search must not tell it.
                and_(Message.body.ilike(pattern), Message.kind.not_in(SECRET_KINDS)),
                Message.phone.ilike(pattern),
                Message.kind.ilike(pattern),
                Message.provider_id == filters.search,
            )
        )
    return query


async def list_messages(
    session: AsyncSession, filters: MessageFilters, *, limit: int, offset: int
) -> tuple[list[Message], int]:
    query = _filtered(filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Message.id.desc()).limit(limit).offset(offset))
    return list(rows), total


@dataclass(frozen=True)
class Totals:
    since: datetime
    sent: int
    delivered: int
    failed: int
    waiting: int
    received: int
    # {currency: micros}
    cost: dict[str, int]
    by_channel: dict[str, int]


SENT_OR_BETTER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
WAITING = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.IN_DOUBT)


async def month_totals(session: AsyncSession, now: datetime | None = None) -> Totals:
    """This calendar month's figures, in the ISP's time zone."""
    zone = await tenant_zone(session)
    local = (now or utcnow()).astimezone(zone)
    since = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = (
        await session.execute(
            select(Message.direction, Message.channel, Message.status, func.count())
            .where(Message.created_at >= since)
            .group_by(Message.direction, Message.channel, Message.status)
        )
    ).all()
    counts = {"sent": 0, "delivered": 0, "failed": 0, "waiting": 0, "received": 0}
    by_channel: dict[str, int] = {}
    for direction, channel, status, count in rows:
        if direction is Direction.IN:
            counts["received"] += count
            continue
        by_channel[channel.value] = by_channel.get(channel.value, 0) + count
        if status in SENT_OR_BETTER:
            counts["sent"] += count
        if status in DELIVERED:
            counts["delivered"] += count
        if status in FAILED:
            counts["failed"] += count
        if status in WAITING:
            counts["waiting"] += count
    cost = dict(
        (
            await session.execute(
                select(Message.cost_currency, func.sum(Message.cost_micros))
                .where(Message.created_at >= since, Message.cost_micros.is_not(None))
                .group_by(Message.cost_currency)
            )
        ).all()
    )
    return Totals(since=since, cost={k or "": int(v) for k, v in cost.items()},
                  by_channel=by_channel, **counts)  # fmt: skip


def format_cost(micros: int | None, currency: str | None) -> str:
    """Millionths as "KES 0.8000" (four places, as AT quotes them), exactly."""
    if micros is None:
        return ""
    return f"{currency or ''} {Decimal(micros) / 1_000_000:,.4f}".strip()


def body_for_staff(message: Message) -> str:
    """The text as the log shows it to staff: a sign-in code's digits masked, so that the
    message log never lets someone sign in as the subscriber."""
    if message.kind in SECRET_KINDS:
        return re.sub(r"\d", "•", message.body)
    return message.body
