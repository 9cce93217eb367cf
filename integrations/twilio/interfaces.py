"""What Kiunga asks of Twilio for WhatsApp, and what Twilio tells it back.

`WhatsAppSender` is the interface the outbound queue sends through: the real client
(`client.TwilioWhatsApp`, the official `twilio` SDK, whose base URL can point at the
emulator). Webhook fields are Twilio's, parsed (see `forms`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TwilioCredentials:
    account_sid: str
    auth_token: str
    # Another API root than https://api.twilio.com (an emulator's).
    base_url: str | None = None


@dataclass(frozen=True)
class WhatsAppSent:
    sid: str  # the MessageSid, SM… / MM…
    status: str  # queued | accepted | sending | sent | failed …
    # Twilio prices a message later ("-0.00500", USD); None until it does.
    price: str | None = None
    price_unit: str | None = None


class WhatsAppUnavailable(Exception):
    """Twilio could not be reached or answered 5xx/429: the message waits and is retried."""


class WhatsAppRefused(Exception):
    """Twilio refused the message (4xx with an error code: 63016 outside the 24-hour
    window, 21211 a bad number, 20003 bad credentials): not retried as it is."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code


class WhatsAppSender(Protocol):
    async def send(
        self,
        credentials: TwilioCredentials,
        *,
        from_: str,
        to: str,
        body: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
        status_callback: str | None = None,
    ) -> WhatsAppSent:
        """Send free text (`body`, within 24 hours of the subscriber's last message) or an
        approved template (`content_sid` and its variables). Phones are E.164; the client
        adds the `whatsapp:` prefix."""
        ...


@dataclass(frozen=True)
class InboundWhatsApp:
    message_sid: str
    phone: str  # From without "whatsapp:"
    to: str
    body: str
    wa_id: str | None
    profile_name: str | None
    num_media: int


@dataclass(frozen=True)
class StatusCallback:
    message_sid: str
    status: str  # queued | sent | delivered | read | failed | undelivered
    error_code: str | None
    phone: str | None
