"""WhatsApp → SMS: a WhatsApp message that cannot go (outside the 24-hour window with no
approved template, or refused by WhatsApp with 63016) goes again as an SMS.

The SMS is a new row pointing at the WhatsApp one (`fallback_of`), so the log shows both;
the WhatsApp row is cancelled when it never left (at send time), and keeps the failure the
provider reported when it did (a status callback). A message falls back once: its dedupe
key is derived from the WhatsApp row's id.
"""

from __future__ import annotations

from kiunga.channels.messages.models import Message, MessageChannel, MessageStatus
from kiunga.channels.messages.outbound import queue_message
from sqlalchemy.ext.asyncio import AsyncSession


async def fall_back_to_sms(
    session: AsyncSession, message: Message, *, cancel: bool, reason: str | None = None
) -> Message | None:
    """Queue `message` again as an SMS (at once: its quiet hours were honoured already);
    the new row, or None when it had fallen back before."""
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
        urgent=True,
        dedupe_key=f"fallback:{message.id}",
        language=message.language,
        ticket_id=message.ticket_id,
        campaign_id=message.campaign_id,
        fallback_of=message.id,
    )
    await session.flush()
    return sms
