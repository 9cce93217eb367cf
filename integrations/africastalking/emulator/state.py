"""What the Africa's Talking emulator knows: accounts (apps), every message accepted (the
outbox), how often each was accepted (duplicates), injected failures, USSD sessions and
incoming messages it sent to an application, and a log of every callback it POSTed."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from kiunga.integrations.emulation.state import MessagingState

# The demo account every emulator knows, so the demo ISP works out of the box.
DEMO_USERNAME = "kiunga-demo"
DEMO_API_KEY = "atsk_kiunga_demo_0123456789abcdef0123456789abcdef"
DEMO_SENDER_ID = "KIUNGA"
DEMO_SHORTCODE = "20880"

# Delivery reports are POSTed by this many tasks at once, each tried this many times.
REPORT_POSTERS = 32
REPORT_ATTEMPTS = 6

# What AT charges here for one segment of a message in Kenya (deterministic on purpose).
PRICE_PER_SEGMENT = Decimal("0.8000")
CURRENCY = "KES"

# GSM 03.38: the basic character set, and the extension table (each of those costs two).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = set("^{}\\[~]|€\f")


def segments(message: str) -> int:
    """How many SMS a message goes as: GSM-7 (160 alone, 153 a part; extension characters
    count two) when every character has one, else UCS-2 (70 alone, 67 a part, in UTF-16
    units)."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in message):
        units = sum(2 if c in _GSM7_EXTENSION else 1 for c in message)
        single, part = 160, 153
    else:
        units = len(message.encode("utf-16-le")) // 2
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


def cost_text(count: int) -> str:
    return f"{CURRENCY} {(PRICE_PER_SEGMENT * count).quantize(Decimal('0.0001'))}"


@dataclass
class Account:
    username: str
    api_key: str
    # Sender ids and shortcodes registered to the app; None: any well-formed one.
    sender_ids: list[str] | None = None
    shortcodes: list[str] | None = None
    # Where AT POSTs delivery reports (set per app in AT's dashboard).
    delivery_report_url: str | None = None

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown.pop("api_key")
        return shown


@dataclass
class OutboundSms:
    message_id: str
    username: str
    to: str
    message: str
    sender: str  # the `from` (sender id or shortcode), AT's default when none was given
    premium: bool
    link_id: str | None
    keyword: str | None
    segments: int
    cost: str
    accepted_at: str
    delivery_status: str | None = None
    failure_reason: str | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UssdSession:
    session_id: str
    callback_url: str
    service_code: str
    phone: str
    network_code: str
    inputs: list[str] = field(default_factory=list)
    ended: bool = False
    screens: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "*".join(self.inputs)


@dataclass
class DeliveryOutcome:
    status: str  # one of AT's delivery statuses
    failure_reason: str | None = None


class EmulatorState(MessagingState[OutboundSms]):
    # The parts of the duplicate key, as the stats show them.
    duplicate_fields = ("username", "to", "message")

    def __init__(self, *, delivery_delay: float = 0.2, with_demo_account: bool = True) -> None:
        super().__init__()
        self.delivery_delay = delivery_delay
        self.accounts: dict[str, Account] = {}
        self.outcomes: dict[str, DeliveryOutcome] = {}  # phone → how delivery ends
        self.link_ids: set[str] = set()  # linkIds of incoming messages the emulator sent
        self.inbound: list[dict[str, Any]] = []
        self.ussd_sessions: dict[str, UssdSession] = {}
        # Delivery reports waiting to be POSTed: (when, url, form, attempt), drained in order
        # by a few posters (see `queue_report`).
        self._reports: asyncio.Queue[tuple[float, str, dict[str, str], int]] | None = None
        if with_demo_account:
            self.add_account(
                Account(
                    DEMO_USERNAME,
                    DEMO_API_KEY,
                    sender_ids=[DEMO_SENDER_ID],
                    shortcodes=[DEMO_SHORTCODE],
                )
            )

    # --- accounts ---------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        self.accounts[account.username] = account

    def authenticate(self, username: str, api_key: str) -> Account | None:
        account = self.accounts.get(username)
        if account is None or not api_key:
            return None
        if not secrets.compare_digest(account.api_key.encode(), api_key.encode()):
            return None
        return account

    # --- the outbox (kept by MessagingState) --------------------------------------------------

    def duplicate_key(self, message: OutboundSms) -> tuple[str, str, str]:
        return (message.username, message.to, message.message)

    def message_id(self, message: OutboundSms) -> str:
        return message.message_id

    def queue_report(self, url: str, form: dict[str, str], *, attempt: int = 1) -> None:
        """POST a delivery report `delivery_delay` from now, by one of REPORT_POSTERS tasks.

        Thousands of reports a minute, each a task of its own posting at once, would pile up
        in the HTTP client's connection pool, whose bookkeeping grows with the square of
        the requests waiting: the emulator would spend itself on that, answer the send API
        slowly, and time reports out. A few posters draining a queue keep both steady."""
        if self._reports is None:
            self._reports = asyncio.Queue()
            for _ in range(REPORT_POSTERS):
                self.background(self._post_reports(self._reports))
        self._reports.put_nowait((time.monotonic() + self.delivery_delay, url, form, attempt))

    async def _post_reports(self, reports: asyncio.Queue) -> None:
        while True:
            due, url, form, attempt = await reports.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            entry = await self.post_form("delivery_report", url, form)
            answered = entry["status"] is not None and 200 <= entry["status"] < 300
            if not answered and attempt < REPORT_ATTEMPTS:
                # AT tries a report again when the application did not take it.
                self.background(self._retry_report(url, form, attempt + 1))

    async def _retry_report(self, url: str, form: dict[str, str], attempt: int) -> None:
        await asyncio.sleep(min(30.0, 2.0 ** (attempt - 1)))
        self.queue_report(url, form, attempt=attempt)

    def new_message_id(self) -> str:
        return f"ATXid_{uuid.uuid4().hex}"
