"""What Kiunga asks of Africa's Talking, and what AT tells it back.

`SmsSender` is the interface the outbound queue sends through: the real client
(`client.AfricasTalkingSms`, the official `africastalking` SDK) or anything speaking to the
emulator. The callback dataclasses are AT's form fields, parsed (see `forms`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class AtCredentials:
    username: str
    api_key: str
    # AT's API root for this account: https://api.africastalking.com (the SDK's own), the
    # sandbox's, or an emulator's.
    base_url: str | None = None


@dataclass(frozen=True)
class SmsSent:
    """AT's answer for one recipient of a send (SMSMessageData.Recipients[])."""

    phone: str
    # AT's statusCode: 100 Processed, 101 Sent, 102 Queued; 401 RiskHold, 402 InvalidSenderId,
    # 403 InvalidPhoneNumber, 404 UnsupportedNumberType, 405 InsufficientBalance,
    # 406 UserInBlacklist, 407 CouldNotRoute, 409 DoNotDisturbRejection, 500 InternalServerError,
    # 501 GatewayError, 502 RejectedByGateway.
    status_code: int
    status: str
    message_id: str | None
    # "KES 0.8000", as AT writes it; parsed into micros by the caller.
    cost: str | None

    @property
    def accepted(self) -> bool:
        return self.status_code in (100, 101, 102)

    @property
    def worth_retrying(self) -> bool:
        # Balance, AT's own failures and routing may clear up; a bad number never does.
        return self.status_code in (405, 407, 500, 501, 502)


class SmsUnavailable(Exception):
    """AT could not be reached or answered 5xx: the message waits and is tried again."""


class SmsRefused(Exception):
    """AT refused the request itself (4xx: bad credentials, bad sender id): not retried
    until the settings change."""


class SmsSender(Protocol):
    async def send(
        self,
        credentials: AtCredentials,
        *,
        to: str,
        message: str,
        sender_id: str | None = None,
        shortcode: str | None = None,
        link_id: str | None = None,
    ) -> SmsSent:
        """Send one SMS. A premium reply goes from `shortcode` with the inbound `link_id`.
        Raises SmsUnavailable (retry) or SmsRefused (do not)."""
        ...


@dataclass(frozen=True)
class UssdHop:
    """One USSD callback: AT POSTs the whole session's input so far, joined by `*`."""

    session_id: str
    service_code: str
    phone: str
    network_code: str
    text: str


@dataclass(frozen=True)
class InboundSms:
    """An SMS to the ISP's shortcode or number (AT's incoming-message callback)."""

    id: str
    phone: str  # from
    to: str
    text: str
    date: str
    link_id: str | None
    network_code: str | None


@dataclass(frozen=True)
class DeliveryReport:
    """AT's delivery report for one sent SMS. status: Sent, Submitted, Buffered, Rejected,
    Success, Failed, AbsentSubscriber, Expired."""

    id: str
    status: str
    phone: str
    network_code: str | None
    failure_reason: str | None
    retry_count: int | None
