"""The subscriber channels' tables: the ISP's channel settings, every message in and out
(the message log, and the outbound queue it doubles as), every provider callback as it
arrived, the templates an ISP edits, what each phone number chose (language, marketing,
the account it speaks for), and bulk campaigns.

Costs are kept exactly, as integer millionths of the provider's currency: Africa's Talking
charges fractions of a cent ("KES 0.8000") and Twilio fractions of a US cent.
"""

from __future__ import annotations

import enum
from datetime import datetime, time
from typing import Any

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class MessageChannel(enum.StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    USSD = "ussd"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class MessageStatus(enum.StrEnum):
    # Outbound, in the order a message moves through them.
    QUEUED = "queued"  # waiting for its turn (or its send_after: quiet hours, a retry)
    SENDING = "sending"  # claimed by a sender; the provider may or may not have it
    IN_DOUBT = "in_doubt"  # a sender died mid-request: settled by a delivery report or resent
    SENT = "sent"  # the provider took it (provider_id set)
    DELIVERED = "delivered"
    READ = "read"  # WhatsApp only
    FAILED = "failed"  # given up: the provider refused it, or the retries ran out
    UNDELIVERED = "undelivered"
    CANCELLED = "cancelled"  # opted out, or replaced by a fallback on another channel
    # Inbound.
    RECEIVED = "received"


class ChannelSettings(TenantBase):
    """One row (id = 1). Secrets are Fernet tokens (kiunga.channels.messages.secrets): the
    providers need them back in clear text; never shown back, logged or put in an event."""

    __tablename__ = "channel_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    # Africa's Talking: the app's username and API key, the sender id (alphanumeric, up to
    # 11 characters) or shortcode messages go from, and another API address than AT's own
    # (a local emulator in development).
    at_username: Mapped[str | None] = mapped_column(String(100))
    at_api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    at_sender_id: Mapped[str | None] = mapped_column(String(11))
    at_shortcode: Mapped[str | None] = mapped_column(String(12))
    at_base_url: Mapped[str | None] = mapped_column(String(200))
    # USSD: the ISP's own service code (*483*57#), or a shared code and this ISP's
    # extension on it (*384*12# and 3: subscribers dial *384*12*3#). Also kept, for routing
    # across ISPs, in platform.ussd_codes.
    ussd_service_code: Mapped[str | None] = mapped_column(String(40))
    ussd_extension: Mapped[str | None] = mapped_column(String(6))
    # Twilio: the account SID and auth token, the WhatsApp sender (+E.164), and another
    # API address than Twilio's (a local emulator in development).
    twilio_account_sid: Mapped[str | None] = mapped_column(String(34))
    twilio_auth_token_encrypted: Mapped[str | None] = mapped_column(Text)
    whatsapp_from: Mapped[str | None] = mapped_column(String(16))
    twilio_base_url: Mapped[str | None] = mapped_column(String(200))
    # Approved WhatsApp templates, a Content SID per notification kind, for messages
    # outside the 24 hours after the subscriber's last message.
    whatsapp_templates: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The path token of this ISP's callback URLs (hashed in platform.webhook_routes).
    callback_token_encrypted: Mapped[str | None] = mapped_column(Text)
    # Messages a second this ISP sends at most, over all channels.
    send_rate_per_second: Mapped[int] = mapped_column(
        SmallInteger, default=20, server_default=text("20")
    )
    # Non-urgent messages (reminders, campaigns) wait for the end of the quiet hours, in
    # the ISP's time zone; urgent ones (receipts, codes, replies) go at once.
    quiet_hours_start: Mapped[time | None] = mapped_column(Time, default=time(21, 0))
    quiet_hours_end: Mapped[time | None] = mapped_column(Time, default=time(7, 0))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("send_rate_per_second BETWEEN 1 AND 1000", name="send_rate_bounded"),
    )


class Message(TenantBase):
    """One message, in or out, on one channel: the subscriber's message log; outbound rows
    are also the outbound queue (status queued → sending → sent → delivered…)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    direction: Mapped[Direction] = mapped_column(text_enum(Direction, "message_direction"))
    channel: Mapped[MessageChannel] = mapped_column(text_enum(MessageChannel, "message_channel"))
    # The other party, E.164; the subscriber when known (a lead or an unknown number: not).
    phone: Mapped[str] = mapped_column(String(16))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    # What it is: reply, receipt, due_soon, overdue, suspended, restored, voucher_code,
    # ticket_reply, ticket_status, outage, campaign, test, sign_in_code, … (inbound: the
    # keyword or flow it started, when known).
    kind: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[MessageStatus] = mapped_column(text_enum(MessageStatus, "message_status"))
    # Receipts, codes and replies go at once; the rest wait for the end of quiet hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Makes queueing idempotent: one message per key (an event id and a kind, say).
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    # The provider's id: AT's messageId / an inbound SMS's id, Twilio's MessageSid.
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # AT premium SMS: the inbound message's linkId a reply must carry.
    link_id: Mapped[str | None] = mapped_column(String(64))
    network_code: Mapped[str | None] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(SmallInteger, default=1)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    cost_currency: Mapped[str | None] = mapped_column(String(3))
    # A WhatsApp message outside the 24 hours went as this approved template.
    template_sid: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    # The message this one replaces on another channel (WhatsApp → SMS fallback).
    fallback_of: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    # Not before this time: quiet hours, or the backoff after a failed try.
    send_after: Mapped[datetime] = mapped_column(server_default=func.now())
    # A sender's claim: another sender may take the message once this has passed.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Delivery reports and status callbacks: AT's failureReason and retryCount, Twilio's
    # ErrorCode.
    failure_reason: Mapped[str | None] = mapped_column(String(100))
    retry_count: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
        # An inbound message or a sent one is known by its provider id, once.
        Index(
            "uq_messages_provider_id",
            "channel",
            "direction",
            "provider_id",
            unique=True,
            postgresql_where=text("provider_id IS NOT NULL"),
        ),
        # The queue: what is waiting, oldest first.
        Index(
            "ix_messages_waiting",
            "send_after",
            "id",
            postgresql_where=text("status IN ('queued', 'sending', 'in_doubt')"),
        ),
        Index("ix_messages_subscriber", "subscriber_id", "id"),
        Index("ix_messages_phone", "phone", "id"),
        Index("ix_messages_created_at", "created_at"),
        CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),
    )


class ChannelCallback(TenantBase):
    """Every provider callback, stored before it is parsed: a USSD hop, an inbound SMS or
    WhatsApp message, a delivery report or status callback. `provider_key` (the provider's
    id, and for USSD the session and the text so far) makes a retried callback a repeat:
    its stored `answer` is given again and nothing is done twice."""

    __tablename__ = "channel_callbacks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # africastalking.ussd | africastalking.sms | africastalking.delivery |
    # twilio.whatsapp | twilio.status
    kind: Mapped[str] = mapped_column(String(30))
    provider_key: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source_address: Mapped[str | None] = mapped_column(String(45))
    # The body as sent (bytes that are not UTF-8, and NUL, as U+FFFD).
    raw_body: Mapped[str] = mapped_column(Text)
    # What was answered (a USSD screen), to answer a retry the same.
    answer: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("kind", "provider_key", name="uq_channel_callbacks_key"),
        Index("ix_channel_callbacks_received_at", "received_at"),
    )


class MessageTemplate(TenantBase):
    """An ISP's own wording of one notification kind in one language; the catalogue's
    wording is used where an ISP has none."""

    __tablename__ = "message_templates"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ChannelContact(TenantBase):
    """What a phone number chose and when it last wrote: its language (before it is anyone's
    subscriber), whether it takes marketing, the channel it prefers, the account it speaks
    for when a phone is on several, and its last WhatsApp message (the 24-hour window)."""

    __tablename__ = "channel_contacts"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(8))
    marketing_opt_out: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    preferred_channel: Mapped[MessageChannel | None] = mapped_column(
        text_enum(MessageChannel, "message_channel")
    )
    chosen_subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    whatsapp_last_inbound_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),)


class Campaign(TenantBase):
    """A bulk message to a filtered list of subscribers (marketing opt-outs left out), or
    an outage notice to every subscriber of a site (sent to all: it is service news)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # campaign | outage
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The subscribers list's filters it was sent to (status, site, package, …).
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
