"""What the Daraja emulator knows: apps, tokens, STK requests, registered C2B URLs, payments,
injected faults and a log of everything it received and sent."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from kiunga.integrations.mpesa.callbacks import daraja_timestamp

# The demo app every emulator knows, so the demo ISP works out of the box. The shortcode and
# passkey are Safaricom's public sandbox values (Lipa na M-Pesa Online test paybill).
DEMO_CONSUMER_KEY = "kiunga-demo-consumer-key"
DEMO_CONSUMER_SECRET = "kiunga-demo-consumer-secret"
DEMO_SHORTCODE = "174379"
DEMO_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DEMO_INITIATOR_NAME = "testapi"
DEMO_SECURITY_CREDENTIAL = "kiunga-demo-security-credential"
DEMO_ORGANISATION_NAME = "Kiunga Demo ISP"

# Apps to know besides the demo one: a path to a JSON file, or the JSON itself (a list).
APPS_ENV = "KIUNGA_DARAJA_EMULATOR_APPS"

TOKEN_EXPIRES_IN = 3599


class Outcome(StrEnum):
    SUCCESS = "success"
    CANCELLED = "cancelled"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    TIMEOUT = "timeout"
    WRONG_PIN = "wrong_pin"
    NO_CALLBACK = "no_callback"  # paid, but the callback never arrives: only STK Query tells


RESULTS: dict[Outcome, tuple[int, str]] = {
    Outcome.SUCCESS: (0, "The service request is processed successfully."),
    Outcome.NO_CALLBACK: (0, "The service request is processed successfully."),
    Outcome.CANCELLED: (1032, "Request cancelled by user"),
    Outcome.INSUFFICIENT_FUNDS: (1, "The balance is insufficient for the transaction."),
    Outcome.TIMEOUT: (1037, "DS timeout user cannot be reached"),
    Outcome.WRONG_PIN: (2001, "The initiator information is invalid."),
}

# The demo convention: a phone number's last four digits choose the STK outcome (unless the
# control endpoint set one for that number). Every other number pays.
OUTCOME_BY_PHONE_SUFFIX: dict[str, Outcome] = {
    "1032": Outcome.CANCELLED,
    "0001": Outcome.INSUFFICIENT_FUNDS,
    "0000": Outcome.NO_CALLBACK,
    "1037": Outcome.TIMEOUT,
    "2001": Outcome.WRONG_PIN,
}

FAULTS = {
    # kind: (HTTP status, errorCode, errorMessage); errorCode None → a bare non-JSON answer
    "spike_arrest": (500, "500.003.02", "Spike arrest violation"),
    "quota_violation": (500, "500.003.03", "Quota violation"),
    "server_error": (500, "500.003.1001", "Internal Server Error"),
    "unavailable": (503, None, "Service Unavailable"),
    "invalid_token": (404, "404.001.03", "Invalid Access Token"),
}


@dataclass
class EmulatedApp:
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    shortcode_type: str = "paybill"  # or "till"
    till_number: str | None = None
    initiator_name: str | None = None
    security_credential: str | None = None
    organisation_name: str = "Emulated Business"

    def __post_init__(self) -> None:
        self.shortcode = str(self.shortcode)
        self.till_number = str(self.till_number) if self.till_number else None
        if self.shortcode_type not in ("paybill", "till"):
            raise ValueError("shortcode_type must be 'paybill' or 'till'")
        if self.shortcode_type == "till" and not self.till_number:
            raise ValueError("a till app needs till_number")

    def owns(self, shortcode: str) -> bool:
        return shortcode in (self.shortcode, self.till_number)

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        for secret in ("consumer_secret", "passkey", "security_credential"):
            shown.pop(secret)
        return shown


@dataclass
class StkRequest:
    merchant_request_id: str
    checkout_request_id: str
    consumer_key: str
    shortcode: str
    phone: str
    amount: int
    account_reference: str
    callback_url: str
    outcome: Outcome
    decided: bool = False
    result_code: int | None = None
    result_desc: str | None = None
    receipt: str | None = None
    callback_log_id: int | None = None


@dataclass
class Payment:
    """A completed payment, for Transaction Status to find."""

    receipt: str
    shortcode: str
    amount: int
    phone: str
    payer_name: str
    reason: str
    completed_at: datetime


@dataclass
class Fault:
    kind: str
    remaining: int
    path_prefix: str


def demo_app() -> EmulatedApp:
    return EmulatedApp(
        consumer_key=DEMO_CONSUMER_KEY,
        consumer_secret=DEMO_CONSUMER_SECRET,
        shortcode=DEMO_SHORTCODE,
        passkey=DEMO_PASSKEY,
        initiator_name=DEMO_INITIATOR_NAME,
        security_credential=DEMO_SECURITY_CREDENTIAL,
        organisation_name=DEMO_ORGANISATION_NAME,
    )


def apps_from_source(source: str | os.PathLike[str] | None) -> list[EmulatedApp]:
    """Apps from a JSON file, or from JSON text itself: a list of app objects."""
    if source is None or str(source).strip() == "":
        return []
    text = str(source).strip()
    if not text.startswith(("[", "{")):
        text = Path(text).read_text()
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("apps", [data])
    return [EmulatedApp(**item) for item in data]


_ALPHANUMERIC = string.ascii_uppercase + string.digits


class EmulatorState:
    def __init__(self, *, callback_delay: float = 1.0, with_demo_app: bool = True) -> None:
        self.callback_delay = callback_delay
        self.token_expires_in = TOKEN_EXPIRES_IN
        self.apps: dict[str, EmulatedApp] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # token → (consumer key, expiry)
        self._current_token: dict[str, str] = {}  # consumer key → its one valid token
        self.outcomes: dict[str, Outcome] = {}  # 2547… → outcome
        self.stk: dict[str, StkRequest] = {}
        self.c2b_urls: dict[str, dict[str, str]] = {}  # shortcode → URLs and ResponseType
        self.payments: dict[str, Payment] = {}
        self.balances: dict[str, int] = {}  # shortcode → shillings received
        self.faults: list[Fault] = []
        self.log: list[dict[str, Any]] = []
        self._log_ids = itertools.count(1)
        self._sequence = itertools.count(1)
        self._issued_ids: set[str] = set()
        self.http: httpx.AsyncClient | None = None
        if with_demo_app:
            self.add_app(demo_app())

    # --- apps and tokens ---------------------------------------------------------------------

    def add_app(self, app: EmulatedApp) -> None:
        self.apps[app.consumer_key] = app

    def app_for_shortcode(self, shortcode: str) -> EmulatedApp | None:
        return next((app for app in self.apps.values() if app.owns(shortcode)), None)

    def app_for_basic_auth(self, header: str | None) -> EmulatedApp | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        key, _, secret = decoded.partition(":")
        app = self.apps.get(key)
        if app is None or not secrets.compare_digest(app.consumer_secret.encode(), secret.encode()):
            return None
        return app

    def issue_token(self, app: EmulatedApp) -> str:
        """A new token; the app's previous one stops working, as at Daraja."""
        previous = self._current_token.pop(app.consumer_key, None)
        if previous:
            self._tokens.pop(previous, None)
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(28))
        self._tokens[token] = (app.consumer_key, time.monotonic() + self.token_expires_in)
        self._current_token[app.consumer_key] = token
        return token

    def app_for_token(self, token: str) -> EmulatedApp | None:
        entry = self._tokens.get(token)
        if entry is None or time.monotonic() >= entry[1]:
            return None
        return self.apps.get(entry[0])

    # --- faults --------------------------------------------------------------------------

    def add_fault(self, kind: str, count: int, path_prefix: str) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        self.faults.append(Fault(kind, count, path_prefix))

    def take_fault(self, path: str) -> str | None:
        for fault in self.faults:
            if fault.remaining > 0 and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault.kind
        return None

    # --- identifiers ----------------------------------------------------------------------

    def receipt(self) -> str:
        """A unique M-Pesa receipt / transaction id shaped like Safaricom's: SLK4H7R2QX."""
        while True:
            letters = "".join(secrets.choice(string.ascii_uppercase) for _ in range(3))
            rest = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(7))
            candidate = letters + rest
            if candidate not in self._issued_ids:
                self._issued_ids.add(candidate)
                return candidate

    def merchant_request_id(self) -> str:
        return f"{secrets.randbelow(90000) + 10000}-{secrets.randbelow(9 * 10**7) + 10**7}-1"

    def checkout_request_id(self) -> str:
        stamp = datetime.now(UTC).strftime("%d%m%Y%H%M%S")
        return f"ws_CO_{stamp}{next(self._sequence):06d}"

    def conversation_ids(self) -> tuple[str, str]:
        originator = f"{secrets.token_hex(2)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}-1"
        return originator, f"AG_{datetime.now(UTC):%Y%m%d}_{secrets.token_hex(10)}"

    # --- STK --------------------------------------------------------------------------------

    def set_outcome(self, phone: str, outcome: Outcome) -> None:
        self.outcomes[phone] = outcome

    def outcome_for(self, phone: str) -> Outcome:
        if phone in self.outcomes:
            return self.outcomes[phone]
        return OUTCOME_BY_PHONE_SUFFIX.get(phone[-4:], Outcome.SUCCESS)

    def decide(self, request: StkRequest) -> dict[str, Any] | None:
        """Settle an STK request; the callback body to send, or None when none is sent."""
        code, desc = RESULTS[request.outcome]
        request.result_code, request.result_desc, request.decided = code, desc, True
        callback: dict[str, Any] = {
            "MerchantRequestID": request.merchant_request_id,
            "CheckoutRequestID": request.checkout_request_id,
            "ResultCode": code,
            "ResultDesc": desc,
        }
        if code == 0:
            request.receipt = self.receipt()
            now = datetime.now(UTC)
            self._record_payment(
                Payment(
                    request.receipt,
                    request.shortcode,
                    request.amount,
                    request.phone,
                    "John Doe",
                    "Pay Bill Online",
                    now,
                )
            )
            items: list[dict[str, Any]] = [
                {"Name": "Amount", "Value": float(request.amount)},
                {"Name": "MpesaReceiptNumber", "Value": request.receipt},
            ]
            if len(self.payments) % 2:  # Daraja sometimes lists a Balance with no Value
                items.append({"Name": "Balance"})
            items += [
                {"Name": "TransactionDate", "Value": int(daraja_timestamp(now))},
                {"Name": "PhoneNumber", "Value": int(request.phone)},
            ]
            callback["CallbackMetadata"] = {"Item": items}
        if request.outcome is Outcome.NO_CALLBACK:
            return None
        return {"Body": {"stkCallback": callback}}

    def _record_payment(self, payment: Payment) -> None:
        self.payments[payment.receipt] = payment
        self.balances[payment.shortcode] = self.balances.get(payment.shortcode, 0) + payment.amount

    def record_c2b_payment(self, payment: Payment) -> None:
        self._record_payment(payment)

    # --- log --------------------------------------------------------------------------------

    def record(self, **entry: Any) -> dict[str, Any]:
        entry = {"id": next(self._log_ids), "at": datetime.now(UTC).isoformat(), **entry}
        self.log.append(entry)
        return entry

    def find_log(self, log_id: int) -> dict[str, Any] | None:
        return next((entry for entry in self.log if entry["id"] == log_id), None)

    async def deliver(
        self,
        kind: str,
        url: str,
        body: dict[str, Any],
        *,
        on_logged: Callable[[dict[str, Any]], None] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """POST a callback to the ISP and log what it answered.

        The log entry exists (done=False) before the POST starts, so that whatever the ISP
        does on receiving it can already find it; it is completed in place."""
        assert self.http is not None, "the emulator's HTTP client starts with the app"
        entry = self.record(
            direction="out",
            kind=kind,
            url=url,
            body=body,
            status=None,
            response=None,
            error=None,
            done=False,
            **extra,
        )
        if on_logged is not None:
            on_logged(entry)
        try:
            response = await self.http.post(url, json=body)
        except httpx.HTTPError as error:
            entry["error"] = f"{type(error).__name__}: {error}"
        else:
            try:
                entry["response"] = response.json()
            except ValueError:
                entry["response"] = response.text
            entry["status"] = response.status_code
        entry["done"] = True
        return entry
