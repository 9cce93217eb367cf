"""What the Twilio emulator knows: accounts, their WhatsApp senders and approved templates,
when each number last wrote (WhatsApp's 24-hour window), every message accepted (the outbox),
how often each was accepted (duplicates), injected failures, and a log of every webhook and
status callback it POSTed."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kiunga.integrations.emulation.state import MessagingState
from kiunga.integrations.twilio.signature import SIGNATURE_HEADER, sign

# The demo account every emulator knows. The sender is Twilio's WhatsApp sandbox number.
DEMO_ACCOUNT_SID = "AC7a1f0c3e9b2d4f6a8c0e2b4d6f8a1c3e"
DEMO_AUTH_TOKEN = "9e1c4b7a2d5f8e0c3b6a9d2f5e8c1b4a"
DEMO_WHATSAPP_FROM = "+14155238886"
# An approved template of the demo account: one variable, the whole text.
DEMO_TEMPLATE_SID = "HX1b2c3d4e5f60718293a4b5c6d7e8f901"
DEMO_TEMPLATE_BODY = "{{1}}"

# WhatsApp's customer-service window: free-form messages only this long after the user's
# last message.
WINDOW = timedelta(hours=24)

# A free-form message outside the window is taken as any other (201, queued) and fails
# afterwards: its status callback says failed with ErrorCode 63016. That is Twilio's way:
# 63016 is its name for WhatsApp's error 470, which WhatsApp reports in the message's
# status, after accepting the message (twilio.com/docs/whatsapp/api/error-code-mapping).
OUTSIDE_WINDOW_ERROR = 63016

# A message's fate, by what the emulator was told for the phone (default: read).
FINAL_STATUSES = ("sent", "delivered", "read", "failed", "undelivered")


@dataclass
class TwilioAccount:
    account_sid: str
    auth_token: str
    # The account's WhatsApp senders (+E.164); None: any well-formed one.
    whatsapp_senders: list[str] | None = None
    # Where status callbacks go when a message names none.
    status_callback_url: str | None = None

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown.pop("auth_token")
        return shown


@dataclass
class Template:
    content_sid: str
    body: str  # with {{1}}, {{2}} … placeholders
    account_sid: str | None = None  # None: every account may use it

    def render(self, variables: dict[str, str]) -> str:
        text = self.body
        for name, value in variables.items():
            text = text.replace("{{" + name + "}}", value)
        return text


@dataclass
class OutboundWhatsApp:
    sid: str
    account_sid: str
    from_: str  # +E.164, without whatsapp:
    to: str
    body: str  # as the phone shows it (a template rendered)
    content_sid: str | None
    content_variables: dict[str, str] | None
    status: str
    status_callback: str | None
    created_at: str
    error_code: int | None = None
    via_twiml: bool = False

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["from"] = shown.pop("from_")
        return shown


@dataclass
class Outcome:
    final: str
    error_code: int | None = None

    def statuses(self) -> list[str]:
        return {
            "sent": ["sent"],
            "delivered": ["sent", "delivered"],
            "read": ["sent", "delivered", "read"],
            "failed": ["failed"],
            "undelivered": ["sent", "undelivered"],
        }[self.final]


class EmulatorState(MessagingState[OutboundWhatsApp]):
    # The parts of the duplicate key, as the stats show them.
    duplicate_fields = ("account_sid", "to", "message")

    def __init__(
        self,
        *,
        status_delay: float = 0.1,
        with_demo_account: bool = True,
    ) -> None:
        super().__init__()
        self.status_delay = status_delay
        self.accounts: dict[str, TwilioAccount] = {}
        self.templates: dict[str, Template] = {}
        # (sender, user) → when the user last wrote to the sender
        self.last_inbound: dict[tuple[str, str], datetime] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.inbound: list[dict[str, str]] = []  # the inbound forms POSTed, oldest first
        if with_demo_account:
            self.add_account(
                TwilioAccount(
                    DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN, whatsapp_senders=[DEMO_WHATSAPP_FROM]
                )
            )
            self.add_template(Template(DEMO_TEMPLATE_SID, DEMO_TEMPLATE_BODY))

    # --- accounts, senders, templates ---------------------------------------------------

    def add_account(self, account: TwilioAccount) -> None:
        self.accounts[account.account_sid] = account

    def add_template(self, template: Template) -> None:
        self.templates[template.content_sid] = template

    def authenticate(self, account_sid: str, auth_token: str) -> TwilioAccount | None:
        account = self.accounts.get(account_sid)
        if account is None or not secrets.compare_digest(
            account.auth_token.encode(), auth_token.encode()
        ):
            return None
        return account

    def account_for_sender(self, sender: str) -> TwilioAccount | None:
        for account in self.accounts.values():
            if account.whatsapp_senders is not None and sender in account.whatsapp_senders:
                return account
        return None

    # --- the 24-hour window -------------------------------------------------------------------

    def wrote(self, sender: str, user: str, when: datetime | None = None) -> None:
        self.last_inbound[(sender, user)] = when or datetime.now(UTC)

    def window_open(self, sender: str, user: str) -> bool:
        last = self.last_inbound.get((sender, user))
        return last is not None and datetime.now(UTC) - last < WINDOW

    # --- the outbox (kept by MessagingState) --------------------------------------------------

    def duplicate_key(self, message: OutboundWhatsApp) -> tuple[str, str, str]:
        key = (message.account_sid, message.to, message.content_sid or message.body)
        if message.content_sid and message.content_variables:
            key = (key[0], key[1], f"{message.content_sid}:{message.content_variables}")
        return key

    def message_id(self, message: OutboundWhatsApp) -> str:
        return message.sid

    # --- webhooks -----------------------------------------------------------------------------

    async def post_signed(
        self, kind: str, url: str, form: dict[str, str], auth_token: str
    ) -> dict[str, Any]:
        """POST `form` to `url` as Twilio does: form-encoded, X-Twilio-Signature computed over
        this exact URL and these fields with the account's auth token."""
        signature = sign(auth_token, url, form)
        return await self.post_form(
            kind,
            url,
            form,
            headers={SIGNATURE_HEADER: signature, "User-Agent": "TwilioProxy/1.1"},
            signature=signature,
        )

    @staticmethod
    def new_sid(prefix: str = "SM") -> str:
        return prefix + uuid.uuid4().hex
