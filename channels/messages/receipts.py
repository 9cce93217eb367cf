"""What the providers tell afterwards about a message sent: Africa's Talking's delivery
reports and Twilio's status callbacks, applied to the message log.

The web routes that receive them (and store them first, in `channel_callbacks`) belong to
the channel settings; they call `apply_delivery_report` / `apply_whatsapp_status` in a
tenant transaction. Both are idempotent: a report applied twice changes nothing more, and
a status never moves backwards (a late "sent" after "delivered" is ignored).

A report also settles a message in doubt. A sender that died between the provider's
answer and writing it down leaves the message without its provider id (`in_doubt` once
its claim lapsed, `sending` before). A report whose id is unknown but whose phone matches
such a message proves the provider took it: the message is given that id and the
report's status, and is never sent again. Only a message still in doubt after a grace
period with no report is sent again (see `sender.py`).
"""

from __future__ import annotations

from kiunga.channels.messages.fallback import outside_the_window
from kiunga.channels.messages.models import Direction, Message, MessageChannel, MessageStatus
from kiunga.integrations.africastalking.interfaces import DeliveryReport
from kiunga.integrations.twilio.interfaces import StatusCallback
from kiunga.platform.db.base import utcnow
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

# How far along a message is; a report never moves it back.
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.IN_DOUBT: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.READ: 4,
}

# AT's delivery statuses: Sent, Submitted, Buffered (on their way), Success (delivered),
# Rejected, Failed, AbsentSubscriber, Expired (not delivered).
AT_STATUSES = {
    "sent": MessageStatus.SENT,
    "submitted": MessageStatus.SENT,
    "buffered": MessageStatus.SENT,
    "success": MessageStatus.DELIVERED,
    "rejected": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.UNDELIVERED,
    "absentsubscriber": MessageStatus.UNDELIVERED,
    "expired": MessageStatus.UNDELIVERED,
}

TWILIO_STATUSES = {
    "accepted": MessageStatus.SENT,
    "queued": MessageStatus.SENT,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "failed": MessageStatus.FAILED,
    "undelivered": MessageStatus.UNDELIVERED,
}

# Twilio's error for a free-form WhatsApp message outside the 24-hour window.
OUTSIDE_WINDOW = "63016"

UNSETTLED = (MessageStatus.SENDING, MessageStatus.IN_DOUBT)


def _phone(raw: str | None) -> str | None:
    if not raw:
        return None
    raw = raw.removeprefix("whatsapp:")
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return None


async def _sent_message(
    session: AsyncSession, channel: MessageChannel, provider_id: str
) -> Message | None:
    return await session.scalar(
        select(Message)
        .where(
            Message.channel == channel,
            Message.direction == Direction.OUT,
            Message.provider_id == provider_id,
        )
        .with_for_update()
    )


async def _unsettled_for(
    session: AsyncSession, channel: MessageChannel, phone: str
) -> Message | None:
    """The message to `phone` a sender may have handed over without writing it down: the
    only one, or the oldest when every candidate is in doubt (their senders are gone). While
    a live sender may still write several down, a report cannot tell them apart: None."""
    candidates = list(
        await session.scalars(
            select(Message)
            .where(
                Message.channel == channel,
                Message.direction == Direction.OUT,
                Message.phone == phone,
                Message.status.in_(UNSETTLED),
                Message.provider_id.is_(None),
            )
            .order_by(Message.id)
            .limit(5)
            .with_for_update()
        )
    )
    if len(candidates) == 1:
        return candidates[0]
    if candidates and all(m.status is MessageStatus.IN_DOUBT for m in candidates):
        return candidates[0]
    return None


def _advance(message: Message, status: MessageStatus) -> None:
    now = utcnow()
    if _RANK.get(status, 0) <= _RANK.get(message.status, 0):
        return
    if message.status in UNSETTLED:
        message.sent_at = message.sent_at or now
        message.claimed_until = None
    message.status = status
    if status in (MessageStatus.DELIVERED, MessageStatus.READ):
        message.delivered_at = message.delivered_at or now


async def _find(
    session: AsyncSession, channel: MessageChannel, provider_id: str, phone: str | None
) -> Message | None:
    message = await _sent_message(session, channel, provider_id)
    if message is None and phone is not None:
        message = await _unsettled_for(session, channel, phone)
        if message is not None:
            # Settled: the provider has it under this id.
            message.provider_id = provider_id
    return message


async def _advance_sent(
    session: AsyncSession, provider_id: str, status: MessageStatus, details: dict
) -> Message | None:
    """The usual report, in one statement: a message sent under `provider_id` moving
    forward (sent → delivered). None when that is not the case (an unknown id, a message
    still unsettled, a status that does not move it forward): the general path sees to it."""
    behind = [s for s, rank in _RANK.items() if rank < _RANK[status] and s not in UNSETTLED]
    if not behind:
        return None
    values = {"status": status, **details}
    if status in (MessageStatus.DELIVERED, MessageStatus.READ):
        values["delivered_at"] = func.coalesce(Message.delivered_at, func.now())
    return await session.scalar(
        update(Message)
        .where(
            Message.channel == MessageChannel.SMS,
            Message.direction == Direction.OUT,
            Message.provider_id == provider_id,
            Message.status.in_(behind),
        )
        .values(**values)
        .returning(Message)
        .execution_options(synchronize_session=False)
    )


async def apply_delivery_report(session: AsyncSession, report: DeliveryReport) -> Message | None:
    """Apply one AT delivery report; the message it concerns, or None when no message
    matches (a report for another system's message, or one long gone)."""
    status = AT_STATUSES.get(report.status.strip().lower())
    if status is None or not report.id:
        return None
    details: dict = {}
    if report.network_code:
        details["network_code"] = report.network_code[:8]
    if report.failure_reason:
        details["failure_reason"] = report.failure_reason[:100]
    if report.retry_count is not None:
        details["retry_count"] = max(0, min(report.retry_count, 32767))
    message = await _advance_sent(session, report.id[:64], status, details)
    if message is not None:
        return message
    message = await _find(session, MessageChannel.SMS, report.id[:64], _phone(report.phone))
    if message is None:
        return None
    _advance(message, status)
    for name, value in details.items():
        setattr(message, name, value)
    await session.flush()
    return message


async def apply_whatsapp_status(session: AsyncSession, status: StatusCallback) -> Message | None:
    """Apply one Twilio status callback.

    Twilio takes free text whatever the 24-hour window; WhatsApp refuses it afterwards, and
    the refusal comes as a callback `failed` (or `undelivered`) with ErrorCode 63016. The
    message keeps that failure with a reason a person can read, the contact's window is
    known closed from then on, and the text goes again by SMS. A callback repeated, or
    `failed` then `undelivered`, changes nothing more: the SMS is keyed by the WhatsApp
    message (fallback.py). A message already delivered or read is left alone."""
    new = TWILIO_STATUSES.get(status.status.strip().lower())
    if new is None or not status.message_sid:
        return None
    message = await _find(
        session, MessageChannel.WHATSAPP, status.message_sid[:64], _phone(status.phone)
    )
    if message is None:
        return None
    _advance(message, new)
    code = (status.error_code or "").strip()
    if code:
        message.failure_reason = code[:100]
    await session.flush()
    if (
        new in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
        and code == OUTSIDE_WINDOW
        and message.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
    ):
        await outside_the_window(session, message)
    return message
