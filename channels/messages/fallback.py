"""WhatsApp → SMS: a WhatsApp message that cannot go (outside the 24-hour window with no
approved template, known before sending) or that WhatsApp refused (Twilio's error 63016 in
a status callback: Twilio takes free text whatever the window, WhatsApp refuses it after)
goes again as an SMS.

The SMS is a new row pointing at the WhatsApp one (`fallback_of`), so the log shows both;
the WhatsApp row is cancelled when it never left (at send time), and keeps the failure the
provider reported when it did (a status callback). A message falls back once: its dedupe
key is derived from the WhatsApp row's id, so a callback repeated, or `failed` followed by
`undelivered`, queues nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from kiunga.channels.messages.models import ChannelContact, Message, MessageChannel, MessageStatus
from kiunga.channels.messages.outbound import queue_message
from kiunga.platform.db.base import utcnow
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

WHATSAPP_WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW_REASON = (
    "WhatsApp refused free text: more than 24 hours since the subscriber last wrote (Twilio 63016)"
)


async def fall_back_to_sms(
    session: AsyncSession, message: Message, *, cancel: bool, reason: str | None = None
) -> Message | None:
    """Queue `message` again as an SMS; the new row, or None when it had fallen back
    before. It keeps the message's urgency: a reminder whose WhatsApp failed during quiet
    hours waits for their end like any other."""
    if message.channel is not MessageChannel.WHATSAPP:
        return None
    if cancel:
        message.status = MessageStatus.CANCELLED
        message.claimed_until = None
        message.last_error = (reason or "sent by SMS instead")[:2000]
    sms = await queue_message(
        session,
        phone=message.phone,
        body=message.body,
        kind=message.kind,
        channel=MessageChannel.SMS,
        subscriber_id=message.subscriber_id,
        urgent=message.urgent,
        dedupe_key=f"fallback:{message.id}",
        language=message.language,
        ticket_id=message.ticket_id,
        campaign_id=message.campaign_id,
        fallback_of=message.id,
    )
    await session.flush()
    return sms


async def window_closed_at(session: AsyncSession, phone: str, sent_at: datetime) -> None:
    """WhatsApp said the window was closed when a message went at `sent_at`, though the
    contact's last inbound said otherwise (missed, or from another number of the ISP):
    the last inbound is put back to the latest moment that agrees with WhatsApp, so that
    what follows goes as a template or an SMS without trying free text first. An inbound
    message after `sent_at` opened a window of its own and is kept."""
    closed = sent_at - WHATSAPP_WINDOW
    await session.execute(
        update(ChannelContact)
        .where(
            ChannelContact.phone == phone,
            ChannelContact.whatsapp_last_inbound_at > closed,
            ChannelContact.whatsapp_last_inbound_at <= sent_at,
        )
        .values(whatsapp_last_inbound_at=closed, updated_at=utcnow())
    )


async def outside_the_window(session: AsyncSession, message: Message) -> Message | None:
    """A WhatsApp message refused for the 24-hour window (63016, by status callback): its
    reason written, the contact's window corrected, and the text queued as an SMS (None
    when that was done before)."""
    if message.template_sid:
        # A template refused (one of a kind WhatsApp does not take to open a conversation):
        # nothing to learn about the window.
        message.last_error = (
            "WhatsApp refused the template outside the 24-hour window (Twilio 63016); "
            "sent by SMS instead"
        )
    else:
        message.last_error = f"{OUTSIDE_WINDOW_REASON}; sent by SMS instead"
        await window_closed_at(session, message.phone, message.sent_at or utcnow())
    return await fall_back_to_sms(session, message, cancel=False)
