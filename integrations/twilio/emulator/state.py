"""What the Twilio emulator knows: accounts, their WhatsApp senders and approved templates,
when each number last wrote (WhatsApp's 24-hour window), every message accepted (the outbox),
how often each was accepted (duplicates), injected failures, and a log of every webhook and
status callback it POSTed."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
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

# How the emulator enforces the window on a free-form message outside it:
#   reject   → the API answers 400 with error 63016 (stricter than Twilio: the sender knows
#              at once)
#   callback → the API takes it (201, queued), then its status callback says failed, 63016
#              (what Twilio does)
WINDOW_MODES = ("reject", "callback")

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


@dataclass
class Fault:
    status: int
    remaining: int | None
    until: float | None


class EmulatorState:
    def __init__(
        self,
        *,
        status_delay: float = 0.1,
        window_mode: str = "reject",
        with_demo_account: bool = True,
    ) -> None:
        if window_mode not in WINDOW_MODES:
            raise ValueError(f"window_mode must be one of {WINDOW_MODES}")
        self.status_delay = status_delay
        self.window_mode = window_mode
        self.accounts: dict[str, TwilioAccount] = {}
        self.templates: dict[str, Template] = {}
        # (sender, user) → when the user last wrote to the sender
        self.last_inbound: dict[tuple[str, str], datetime] = {}
        self.outbox: list[OutboundWhatsApp] = []
        self.accepted: Counter[tuple[str, str, str]] = Counter()
        self.outcomes: dict[str, Outcome] = {}
        self.inbound: list[dict[str, str]] = []  # the inbound forms POSTed, oldest first
        self.faults: list[Fault] = []
        self.failed_requests = 0
        self.log: list[dict[str, Any]] = []
        self._log_ids = itertools.count(1)
        self._lock = threading.Lock()
        self.http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
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

    # --- faults -----------------------------------------------------------------------------

    def add_fault(self, status: int, count: int | None, seconds: float | None) -> Fault:
        fault = Fault(status, count, time.monotonic() + seconds if seconds is not None else None)
        with self._lock:
            self.faults.append(fault)
        return fault

    def take_fault(self) -> int | None:
        now = time.monotonic()
        with self._lock:
            self.faults = [
                f
                for f in self.faults
                if (f.remaining is None or f.remaining > 0) and (f.until is None or f.until > now)
            ]
            if not self.faults:
                return None
            fault = self.faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
            self.failed_requests += 1
            return fault.status

    # --- the outbox -------------------------------------------------------------------------

    def accept(self, message: OutboundWhatsApp) -> None:
        with self._lock:
            self.outbox.append(message)
            key = (message.account_sid, message.to, message.content_sid or message.body)
            if message.content_sid and message.content_variables:
                key = (key[0], key[1], f"{message.content_sid}:{message.content_variables}")
            self.accepted[key] += 1

    def messages_to(self, phone: str | None = None) -> list[OutboundWhatsApp]:
        with self._lock:
            return [m for m in self.outbox if phone is None or m.to == phone]

    def find(self, sid: str) -> OutboundWhatsApp | None:
        with self._lock:
            for message in self.outbox:
                if message.sid == sid:
                    return message
        return None

    def duplicates(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"account_sid": account, "to": to, "message": text, "count": count}
                for (account, to, text), count in self.accepted.items()
                if count > 1
            ]

    def clear_outbox(self) -> None:
        with self._lock:
            self.outbox.clear()
            self.accepted.clear()

    # --- webhooks -----------------------------------------------------------------------------

    def record(self, **entry: Any) -> dict[str, Any]:
        entry = {"id": next(self._log_ids), "at": datetime.now(UTC).isoformat(), **entry}
        with self._lock:
            self.log.append(entry)
            del self.log[:-5000]
        return entry

    async def post_signed(
        self, kind: str, url: str, form: dict[str, str], auth_token: str
    ) -> dict[str, Any]:
        """POST `form` to `url` as Twilio does: form-encoded, X-Twilio-Signature computed over
        this exact URL and these fields with the account's auth token."""
        assert self.http is not None, "the emulator's HTTP client is not started"
        signature = sign(auth_token, url, form)
        started = time.monotonic()
        status: int | None = None
        body: str | None = None
        content_type: str | None = None
        error: str | None = None
        try:
            answer = await self.http.post(
                url,
                data=form,
                headers={SIGNATURE_HEADER: signature, "User-Agent": "TwilioProxy/1.1"},
            )
            status, body = answer.status_code, answer.text
            content_type = answer.headers.get("content-type")
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as problem:
            error = f"{type(problem).__name__}: {problem}"
        return self.record(
            direction="out",
            kind=kind,
            url=url,
            form=form,
            signature=signature,
            status=status,
            content_type=content_type,
            response=body,
            error=error,
            seconds=round(time.monotonic() - started, 4),
        )

    def background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def new_sid(prefix: str = "SM") -> str:
        return prefix + uuid.uuid4().hex
