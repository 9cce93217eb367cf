"""Putting a message on the ISP's outbound queue, and writing an inbound one down.

Every message Kiunga sends to a subscriber (a receipt, a reminder, a ticket reply, a
campaign) is a `messages` row queued by `queue_message` in the caller's own transaction:
the message commits with the business change that caused it, or not at all. The sender
(`sender.py`) drains the queue afterwards.

How the sender hears of it: the first message queued in a transaction (and due now)
also writes one `messages.queued` outbox event, in the same transaction. The outbox relay
turns it into a job once it has committed, and that job starts a drain of the ISP's queue
(`sender.wake_sender`). So a message that rolls back wakes nobody, a committed one is never
missed while Redis is down (the event waits in the outbox), and a batch of ten thousand
reminders queued in one transaction costs one event, not ten thousand. A message held
back by quiet hours or a retry's backoff is picked up by the sender's periodic sweep.

`record_inbound` writes an inbound SMS or WhatsApp message once per provider id; a
WhatsApp message also opens the contact's 24-hour window for free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiunga.channels.messages.models import (
    ChannelContact,
    ChannelSettings,
    Direction,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.segments import count_segments
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import DomainError
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.zones import tenant_zone
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

QUEUED_TOPIC = "messages.queued"
# The transaction that already woke the sender (kept in session.info).
_WAKE_KEY = "kiunga_messages_wake"

DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(7, 0)
DEFAULT_LANGUAGE = "en"
MAX_BODY = 4096  # WhatsApp's limit; an SMS that long is 27+ segments, but it is the ISP's call
MAX_KIND = 40


async def channel_settings(session: AsyncSession) -> ChannelSettings | None:
    return await session.get(ChannelSettings, 1)


def whatsapp_configured(settings: ChannelSettings | None) -> bool:
    return bool(
        settings
        and settings.twilio_account_sid
        and settings.twilio_auth_token_encrypted
        and settings.whatsapp_from
    )


def quiet_until(
    now: datetime, zone: ZoneInfo, start: time | None, end: time | None
) -> datetime | None:
    """The end of the quiet hours `now` falls in (in UTC's terms, zone-aware), or None when
    `now` is outside them. Hours that wrap midnight (21:00-07:00) are handled."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        if not (start <= clock < end):
            return None
        day = local.date()
    else:
        if end <= clock < start:
            return None
        day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


async def _contact(session: AsyncSession, phone: str) -> ChannelContact | None:
    return await session.get(ChannelContact, phone)


async def preferred_language(
    session: AsyncSession,
    phone: str,
    subscriber_id: int | None,
    contact: ChannelContact | None | bool = False,
) -> str:
    """The subscriber's language, else what the phone chose, else English (`contact`: the
    phone's ChannelContact when already read, None when it has none)."""
    if subscriber_id is not None:
        language = await session.scalar(
            select(Subscriber.language).where(Subscriber.id == subscriber_id)
        )
        if language:
            return str(language.value if hasattr(language, "value") else language)
    if contact is False:
        contact = await _contact(session, phone)
    if contact is not None and contact.language:
        return contact.language
    return DEFAULT_LANGUAGE


def _check(phone: str, body: str, kind: str) -> None:
    if "\x00" in body or "\x00" in kind:
        raise DomainError("body", "NUL bytes are refused")
    if not body.strip():
        raise DomainError("body", "a message needs a text")
    if len(body) > MAX_BODY:
        raise DomainError("body", f"a message is at most {MAX_BODY} characters")
    if not kind or len(kind) > MAX_KIND:
        raise DomainError("kind", f"a message kind is 1-{MAX_KIND} characters")
    if not (phone.startswith("+") and phone[1:].isdigit() and 8 <= len(phone) <= 16):
        raise DomainError("phone", f"{phone!r} is not an E.164 phone number")


async def wake_sender_after_commit(session: AsyncSession) -> None:
    """One `messages.queued` event per transaction: the sender drains after the commit."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_WAKE_KEY) is transaction:
        return
    await emit(session, QUEUED_TOPIC, {})
    session.info[_WAKE_KEY] = transaction


# A message whose channel the ISP has not set up (no Africa's Talking app for an SMS) is
# not a failure to retry: it stays queued with this note, its attempts untouched, until
# the ISP saves its channel settings (`wake_waiting`), or SETTINGS_RECHECK has passed.
WAITING_FOR_SETTINGS = "waiting for SMS settings"
SETTINGS_RECHECK = timedelta(minutes=15)


async def wake_waiting(session: AsyncSession) -> int:
    """The ISP saved its channel settings: the messages waiting for them are due now, and
    the sender is woken once this transaction commits. How many were waiting."""
    woken = await session.execute(
        update(Message)
        .where(
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.QUEUED,
            Message.last_error.startswith(WAITING_FOR_SETTINGS, autoescape=True),
        )
        .values(send_after=func.now())
    )
    if woken.rowcount:
        await wake_sender_after_commit(session)
    return woken.rowcount


async def queue_message(
    session: AsyncSession,
    *,
    phone: str,
    body: str,
    kind: str,
    channel: MessageChannel | None = None,
    subscriber_id: int | None = None,
    urgent: bool = False,
    dedupe_key: str | None = None,
    link_id: str | None = None,
    language: str | None = None,
    ticket_id: int | None = None,
    campaign_id: int | None = None,
    fallback_of: int | None = None,
    now: datetime | None = None,
) -> Message | None:
    """Queue one outbound message in the caller's transaction; None when `dedupe_key` was
    queued before (nothing is done). `channel` None: the contact's preferred channel when
    it is WhatsApp and the ISP has WhatsApp, else SMS (the sender falls back from WhatsApp
    to SMS outside the 24-hour window when there is no template). Non-urgent messages wait
    for the end of the ISP's quiet hours."""
    _check(phone, body, kind)
    now = now or utcnow()
    settings = await channel_settings(session)
    contact = await _contact(session, phone) if channel is None or language is None else None
    if channel is None:
        wants_whatsapp = contact is not None and contact.preferred_channel is (
            MessageChannel.WHATSAPP
        )
        channel = (
            MessageChannel.WHATSAPP
            if wants_whatsapp and whatsapp_configured(settings)
            else MessageChannel.SMS
        )
    if channel is MessageChannel.USSD:
        raise DomainError("channel", "USSD answers are screens, not queued messages")
    if language is None:
        language = await preferred_language(session, phone, subscriber_id, contact)
    send_after = now
    if not urgent:
        start = settings.quiet_hours_start if settings else DEFAULT_QUIET_START
        end = settings.quiet_hours_end if settings else DEFAULT_QUIET_END
        if start is not None and end is not None and start != end:
            held = quiet_until(now, await tenant_zone(session), start, end)
            if held is not None:
                send_after = held
    segments = count_segments(body).count if channel is MessageChannel.SMS else 1
    statement = (
        insert(Message)
        .values(
            direction=Direction.OUT,
            channel=channel,
            phone=phone,
            subscriber_id=subscriber_id,
            kind=kind,
            body=body,
            language=language,
            status=MessageStatus.QUEUED,
            urgent=urgent,
            dedupe_key=dedupe_key and dedupe_key[:120],
            link_id=link_id,
            segments=min(segments, 32767),
            ticket_id=ticket_id,
            campaign_id=campaign_id,
            fallback_of=fallback_of,
            send_after=send_after,
        )
        .returning(Message)
    )
    if dedupe_key is not None:
        # Waits for a concurrent insert of the same key, then inserts nothing: never an
        # error that would abort the caller's transaction.
        statement = statement.on_conflict_do_nothing(constraint="uq_messages_dedupe_key")
    message = await session.scalar(statement)
    if message is None:
        return None
    if send_after <= now:
        await wake_sender_after_commit(session)
    return message


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch for `queue_many` (the arguments of `queue_message`)."""

    phone: str
    body: str
    kind: str
    subscriber_id: int | None = None
    urgent: bool = False
    dedupe_key: str | None = None
    language: str | None = None
    channel: MessageChannel | None = None
    campaign_id: int | None = None


BATCH = 1_000


async def queue_many(
    session: AsyncSession, items: Sequence[Outgoing], *, now: datetime | None = None
) -> int:
    """Queue many messages in the caller's transaction as `queue_message` would, with a
    few statements per thousand (a campaign, a night's reminders); how many were new (a
    dedupe key queued before is skipped)."""
    for item in items:
        _check(item.phone, item.body, item.kind)
    now = now or utcnow()
    settings = await channel_settings(session)
    start = settings.quiet_hours_start if settings else DEFAULT_QUIET_START
    end = settings.quiet_hours_end if settings else DEFAULT_QUIET_END
    quiet_end = None
    if start is not None and end is not None and start != end:
        quiet_end = quiet_until(now, await tenant_zone(session), start, end)
    has_whatsapp = whatsapp_configured(settings)
    queued = 0
    woke = False
    for first in range(0, len(items), BATCH):
        chunk = items[first : first + BATCH]
        contacts = {
            c.phone: c
            for c in await session.scalars(
                select(ChannelContact).where(ChannelContact.phone.in_({i.phone for i in chunk}))
            )
        }
        subscriber_ids = {i.subscriber_id for i in chunk if i.subscriber_id is not None}
        languages = dict(
            (
                await session.execute(
                    select(Subscriber.id, Subscriber.language).where(
                        Subscriber.id.in_(subscriber_ids)
                    )
                )
            ).all()
        ) if subscriber_ids else {}  # fmt: skip
        rows = []
        for item in chunk:
            contact = contacts.get(item.phone)
            channel = item.channel
            if channel is None:
                wants = contact is not None and contact.preferred_channel is MessageChannel.WHATSAPP
                channel = MessageChannel.WHATSAPP if wants and has_whatsapp else MessageChannel.SMS
            language = item.language
            if language is None:
                chosen = languages.get(item.subscriber_id)
                language = (
                    str(getattr(chosen, "value", chosen))
                    if chosen
                    else (contact.language if contact and contact.language else DEFAULT_LANGUAGE)
                )
            send_after = quiet_end if quiet_end is not None and not item.urgent else now
            rows.append(
                {
                    "direction": Direction.OUT,
                    "channel": channel,
                    "phone": item.phone,
                    "subscriber_id": item.subscriber_id,
                    "kind": item.kind,
                    "body": item.body,
                    "language": language,
                    "status": MessageStatus.QUEUED,
                    "urgent": item.urgent,
                    "dedupe_key": item.dedupe_key and item.dedupe_key[:120],
                    "segments": min(count_segments(item.body).count, 32767)
                    if channel is MessageChannel.SMS
                    else 1,
                    "campaign_id": item.campaign_id,
                    "send_after": send_after,
                }
            )
        inserted = await session.scalars(
            insert(Message)
            .values(rows)
            .on_conflict_do_nothing(constraint="uq_messages_dedupe_key")
            .returning(Message.send_after)
        )
        for send_after in inserted:
            queued += 1
            woke = woke or send_after <= now
    if woke:
        await wake_sender_after_commit(session)
    return queued


async def record_inbound(
    session: AsyncSession,
    *,
    channel: MessageChannel,
    phone: str,
    body: str,
    provider_id: str | None,
    kind: str,
    subscriber_id: int | None = None,
    link_id: str | None = None,
    network_code: str | None = None,
) -> Message | None:
    """Write an inbound message down once per (channel, provider id); None when it was
    seen before. A WhatsApp message opens the 24-hour window for free text."""
    body = body.replace("\x00", "\ufffd")[:MAX_BODY]
    statement = (
        insert(Message)
        .values(
            direction=Direction.IN,
            channel=channel,
            phone=phone,
            subscriber_id=subscriber_id,
            kind=(kind or "inbound")[:MAX_KIND],
            body=body,
            status=MessageStatus.RECEIVED,
            provider_id=provider_id and provider_id[:64],
            link_id=link_id and link_id[:64],
            network_code=network_code and network_code[:8],
            segments=min(count_segments(body).count, 32767) if channel is MessageChannel.SMS else 1,
        )
        .returning(Message)
    )
    if provider_id is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["channel", "direction", "provider_id"],
            index_where=text("provider_id IS NOT NULL"),
        )
    message = await session.scalar(statement)
    if message is None:
        return None
    if channel is MessageChannel.WHATSAPP:
        await note_whatsapp_inbound(session, phone, message.created_at or utcnow())
    return message


async def note_whatsapp_inbound(session: AsyncSession, phone: str, at: datetime) -> None:
    """The contact wrote on WhatsApp at `at`: free text may go to it for 24 hours."""
    await session.execute(
        insert(ChannelContact)
        .values(phone=phone, whatsapp_last_inbound_at=at)
        .on_conflict_do_update(
            index_elements=[ChannelContact.phone],
            set_={"whatsapp_last_inbound_at": at, "updated_at": utcnow()},
            where=(ChannelContact.whatsapp_last_inbound_at.is_(None))
            | (ChannelContact.whatsapp_last_inbound_at < at),
        )
    )
