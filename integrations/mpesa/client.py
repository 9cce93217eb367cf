"""An async client for Safaricom's Daraja API: OAuth, STK push and query, C2B URLs and
Transaction Status.

One client per Daraja app (consumer key). Daraja invalidates an app's previous token when it
issues a new one, so the client holds exactly one token, refreshes it under a lock (one
refresh however many requests race) and, when Daraja calls it invalid anyway (another
process took a new one), refreshes once and retries. Spike-arrest refusals are retried with
exponential backoff; they are refused at Daraja's gateway, before anything happens, so a
retry cannot pay twice. Other failures are not retried here: an STK push sent twice would
ask the customer twice.

Secrets (consumer secret, passkey, token, security credential, the STK password) never reach
a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
from kiunga.integrations.mpesa.callbacks import (
    AmountError,
    daraja_timestamp,
    shillings_from_minor,
)

log = logging.getLogger(__name__)

SANDBOX_URL = "https://sandbox.safaricom.co.ke"
PRODUCTION_URL = "https://api.safaricom.co.ke"

# Daraja's error codes that change what the client does.
INVALID_REQUEST = "400.002.02"
INVALID_ACCESS_TOKEN = "404.001.03"
INVALID_AUTHENTICATION = "400.008.01"  # wrong consumer key/secret at /oauth
SPIKE_ARREST = "500.003.02"
QUOTA_VIOLATION = "500.003.03"
MERCHANT_ERROR = "500.001.1001"  # "Wrong credentials", "being processed", "Unable to lock…"
# Refused by this client before anything was sent.
LOCAL_VALIDATION = "client.invalid"

ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13

_KENYAN_MOBILE = re.compile(r"^(?:\+?254|0)?([17]\d{8})$")
_FIELD_IN_MESSAGE = re.compile(r"Invalid\s+([A-Za-z][A-Za-z0-9]*)")


# ---------------------------------------------------------------------------------------
# Errors


class DarajaError(Exception):
    """Daraja refused or failed a request. `code` is Daraja's errorCode (or ResponseCode)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field


class DarajaInvalidRequest(DarajaError):
    """400.002.02, or refused before sending; `field` names the offending field when known."""


class DarajaAuthError(DarajaError):
    """Bad consumer key/secret, or a token Daraja still calls invalid after one refresh."""


class DarajaWrongCredentials(DarajaError):
    """500.001.1001 "Wrong credentials": the STK password (shortcode + passkey) is wrong."""


class DarajaRateLimited(DarajaError):
    """Spike arrest (500.003.02) after the retries, or the app's quota is spent (500.003.03)."""


class DarajaUnavailable(DarajaError):
    """Daraja could not be reached, timed out, or answered a server error."""


# ---------------------------------------------------------------------------------------
# Configuration and results


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    shortcode: str  # the paybill, or for a till the store (head office) number
    passkey: str = field(repr=False)
    shortcode_type: Literal["paybill", "till"] = "paybill"
    till_number: str | None = None  # PartyB of a till's STK push
    initiator_name: str | None = None
    security_credential: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.shortcode_type not in ("paybill", "till"):
            raise ValueError(
                f"shortcode_type must be 'paybill' or 'till', not {self.shortcode_type!r}"
            )
        if self.shortcode_type == "till" and not self.till_number:
            raise ValueError("a till needs till_number (PartyB); shortcode is the store number")


@dataclass(frozen=True)
class StkPushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str
    response_description: str = ""


@dataclass(frozen=True)
class StkQueryResult:
    result_code: int | None  # None while pending
    result_desc: str
    pending: bool
    merchant_request_id: str | None = None
    checkout_request_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0


@dataclass(frozen=True)
class C2BUrlsRegistered:
    originator_conversation_id: str
    response_description: str


@dataclass(frozen=True)
class TransactionStatusAccepted:
    originator_conversation_id: str
    conversation_id: str
    response_description: str


@runtime_checkable
class MpesaGateway(Protocol):
    """What the tenant side needs of Daraja; `DarajaClient` is the real one."""

    async def stk_push(
        self,
        *,
        phone: str,
        amount_minor: int,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAccepted: ...

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult: ...

    async def register_c2b_urls(
        self, *, validation_url: str, confirmation_url: str, response_type: str = "Completed"
    ) -> C2BUrlsRegistered: ...

    async def transaction_status(
        self,
        *,
        transaction_id: str,
        result_url: str,
        queue_timeout_url: str,
        remarks: str = "status",
        occasion: str = "",
    ) -> TransactionStatusAccepted: ...

    async def check_credentials(self) -> None: ...


# ---------------------------------------------------------------------------------------
# Request checks done before anything is sent


def msisdn_for_daraja(phone: str) -> str:
    """+254712345678 / 0712345678 / 254112345678 → 2547XXXXXXXX or 2541XXXXXXXX."""
    compact = re.sub(r"[\s-]", "", str(phone))
    match = _KENYAN_MOBILE.match(compact)
    if not match:
        raise DarajaInvalidRequest(
            LOCAL_VALIDATION,
            f"not a Kenyan mobile number: {phone!r} (expected +2547XXXXXXXX or 07XXXXXXXX)",
            field="PhoneNumber",
        )
    return "254" + match.group(1)


def _bounded_text(value: str, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DarajaInvalidRequest(LOCAL_VALIDATION, f"{name} is required", field=name)
    if len(value) > limit:
        raise DarajaInvalidRequest(
            LOCAL_VALIDATION,
            f"{name} is {len(value)} characters; Daraja allows at most {limit}",
            field=name,
        )
    return value


def _whole_shillings(amount_minor: int) -> int:
    try:
        shillings = shillings_from_minor(amount_minor)
    except AmountError as error:
        raise DarajaInvalidRequest(LOCAL_VALIDATION, str(error), field="Amount") from None
    if shillings < 1:
        raise DarajaInvalidRequest(LOCAL_VALIDATION, "amount must be at least KES 1", "Amount")
    return shillings


def _url(value: str, name: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://\S+$", value):
        raise DarajaInvalidRequest(LOCAL_VALIDATION, f"{name} must be an http(s) URL", name)
    return value


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


# ---------------------------------------------------------------------------------------
# The client


class DarajaClient:
    def __init__(
        self,
        config: DarajaConfig,
        *,
        http: httpx.AsyncClient | None = None,
        rate_limit_retries: int = 4,
        backoff_seconds: float = 0.5,
        token_margin_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.config = config
        self._base_url = config.base_url.rstrip("/")
        self._given_http = http
        self._timeout = timeout_seconds
        self._rate_limit_retries = rate_limit_retries
        self._backoff_seconds = backoff_seconds
        self._token_margin = token_margin_seconds
        self._token: str | None = None
        self._token_expires_at = 0.0  # time.monotonic()
        # A client kept per process may serve more than one event loop (a web server's and a
        # job runner's, say). A lock and a connection pool belong to one loop, so each loop
        # gets its own; the token, which belongs to no loop, is shared.
        self._per_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[asyncio.Lock, httpx.AsyncClient]
        ] = weakref.WeakKeyDictionary()
        self.token_fetches = 0  # how many tokens this client has asked for

    def __repr__(self) -> str:
        return f"DarajaClient({self._base_url}, shortcode={self.config.shortcode})"

    def _for_this_loop(self) -> tuple[asyncio.Lock, httpx.AsyncClient]:
        loop = asyncio.get_running_loop()
        parts = self._per_loop.get(loop)
        if parts is None:
            http = self._given_http or httpx.AsyncClient(timeout=self._timeout)
            parts = self._per_loop[loop] = (asyncio.Lock(), http)
        return parts

    @property
    def _token_lock(self) -> asyncio.Lock:
        return self._for_this_loop()[0]

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._for_this_loop()[1]

    async def aclose(self) -> None:
        """Close the connections this client opened on the running loop (those of other,
        finished loops went with them); an `http` passed in is its owner's to close."""
        parts = self._per_loop.pop(asyncio.get_running_loop(), None)
        if parts is not None and self._given_http is None:
            await parts[1].aclose()

    async def __aenter__(self) -> DarajaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- OAuth ---------------------------------------------------------------------------

    async def check_credentials(self) -> None:
        """Fetch a fresh token: raises `DarajaAuthError` on a wrong key/secret."""
        async with self._token_lock:
            await self._fetch_token()

    async def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_expires_at:
            return self._token
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_expires_at:
                return self._token
            return await self._fetch_token()

    async def _replace_rejected_token(self, rejected: str) -> None:
        async with self._token_lock:
            if self._token == rejected:  # nobody refreshed it since it was refused
                await self._fetch_token()

    async def _fetch_token(self) -> str:
        self._token = None
        self.token_fetches += 1
        response = await self._send(
            "GET",
            "/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=(self.config.consumer_key, self.config.consumer_secret),
        )
        body = _json(response)
        error = _error_from(response, body)
        if error is not None:
            if isinstance(error, DarajaUnavailable | DarajaRateLimited):
                raise error
            raise DarajaAuthError(error.code, error.message)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise DarajaAuthError(str(response.status_code), "no access_token in Daraja's answer")
        try:
            expires_in = float(body.get("expires_in", 3599))
        except (TypeError, ValueError):
            expires_in = 3599.0
        margin = min(self._token_margin, expires_in / 10)
        self._token = str(token)
        self._token_expires_at = time.monotonic() + expires_in - margin
        log.info("daraja token issued", extra={"shortcode": self.config.shortcode})
        return self._token

    # --- transport -------------------------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange, with spike arrest retried after a growing pause."""
        for attempt in range(self._rate_limit_retries + 1):
            try:
                response = await self._http.request(method, self._base_url + path, **kwargs)
            except httpx.TimeoutException:
                raise DarajaUnavailable(
                    "timeout", f"Daraja did not answer {path} in time"
                ) from None
            except httpx.TransportError as error:
                raise DarajaUnavailable(
                    "connection", f"could not reach Daraja for {path}: {type(error).__name__}"
                ) from None
            if attempt < self._rate_limit_retries and _is_spike_arrest(response):
                pause = self._backoff_seconds * 2**attempt
                log.warning(
                    "daraja spike arrest; retrying",
                    extra={"path": path, "attempt": attempt + 1, "pause": pause},
                )
                await asyncio.sleep(pause)
                continue
            return response
        raise AssertionError("unreachable")  # the last attempt always returns

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        refreshed = False
        while True:
            token = await self._access_token()
            response = await self._send(
                "POST", path, json=payload, headers={"Authorization": f"Bearer {token}"}
            )
            body = _json(response)
            error = _error_from(response, body)
            if error is None:
                return body
            if isinstance(error, DarajaAuthError) and not refreshed:
                log.info("daraja rejected the token; refreshing once", extra={"path": path})
                refreshed = True
                await self._replace_rejected_token(token)
                continue
            log.warning(
                "daraja refused a request",
                extra={"path": path, "status": response.status_code, "code": error.code},
            )
            raise error

    # --- STK push (Lipa na M-Pesa Online) ---------------------------------------------------

    def _stk_password(self) -> tuple[str, str]:
        timestamp = daraja_timestamp()
        return stk_password(self.config.shortcode, self.config.passkey, timestamp), timestamp

    async def stk_push(
        self,
        *,
        phone: str,
        amount_minor: int,
        account_reference: str,
        description: str,
        callback_url: str,
    ) -> StkPushAccepted:
        msisdn = msisdn_for_daraja(phone)
        shillings = _whole_shillings(amount_minor)
        reference = _bounded_text(account_reference, "AccountReference", ACCOUNT_REFERENCE_MAX)
        desc = _bounded_text(description, "TransactionDesc", TRANSACTION_DESC_MAX)
        callback_url = _url(callback_url, "CallBackURL")
        till = self.config.shortcode_type == "till"
        password, timestamp = self._stk_password()
        body = await self._post(
            "/mpesa/stkpush/v1/processrequest",
            {
                "BusinessShortCode": self.config.shortcode,
                "Password": password,
                "Timestamp": timestamp,
                "TransactionType": "CustomerBuyGoodsOnline" if till else "CustomerPayBillOnline",
                "Amount": shillings,
                "PartyA": msisdn,
                "PartyB": self.config.till_number if till else self.config.shortcode,
                "PhoneNumber": msisdn,
                "CallBackURL": callback_url,
                "AccountReference": reference,
                "TransactionDesc": desc,
            },
        )
        _require_response_code(body)
        return StkPushAccepted(
            merchant_request_id=str(body.get("MerchantRequestID", "")),
            checkout_request_id=str(body.get("CheckoutRequestID", "")),
            customer_message=str(body.get("CustomerMessage", "")),
            response_description=str(body.get("ResponseDescription", "")),
        )

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        if not checkout_request_id:
            raise DarajaInvalidRequest(LOCAL_VALIDATION, "required", "CheckoutRequestID")
        password, timestamp = self._stk_password()
        try:
            body = await self._post(
                "/mpesa/stkpushquery/v1/query",
                {
                    "BusinessShortCode": self.config.shortcode,
                    "Password": password,
                    "Timestamp": timestamp,
                    "CheckoutRequestID": checkout_request_id,
                },
            )
        except DarajaError as error:
            if error.code == MERCHANT_ERROR and "process" in error.message.lower():
                return StkQueryResult(
                    None, error.message, True, checkout_request_id=checkout_request_id
                )
            raise
        _require_response_code(body)
        try:
            result_code = int(str(body.get("ResultCode")).strip())
        except ValueError:
            raise DarajaError("response", "STK query answer without a ResultCode") from None
        return StkQueryResult(
            result_code=result_code,
            result_desc=str(body.get("ResultDesc", "")),
            pending=False,
            merchant_request_id=body.get("MerchantRequestID"),
            checkout_request_id=body.get("CheckoutRequestID", checkout_request_id),
        )

    # --- C2B ------------------------------------------------------------------------------

    async def register_c2b_urls(
        self, *, validation_url: str, confirmation_url: str, response_type: str = "Completed"
    ) -> C2BUrlsRegistered:
        if response_type not in ("Completed", "Cancelled"):
            raise DarajaInvalidRequest(
                LOCAL_VALIDATION, "must be 'Completed' or 'Cancelled'", "ResponseType"
            )
        body = await self._post(
            "/mpesa/c2b/v1/registerurl",
            {
                "ShortCode": self.config.shortcode,
                "ResponseType": response_type,
                "ConfirmationURL": _url(confirmation_url, "ConfirmationURL"),
                "ValidationURL": _url(validation_url, "ValidationURL"),
            },
        )
        _require_response_code(body)
        return C2BUrlsRegistered(
            # Daraja spells it "OriginatorCoversationID" in this answer.
            originator_conversation_id=str(
                body.get("OriginatorCoversationID") or body.get("OriginatorConversationID") or ""
            ),
            response_description=str(body.get("ResponseDescription", "")),
        )

    # --- Transaction Status ------------------------------------------------------------------

    async def transaction_status(
        self,
        *,
        transaction_id: str,
        result_url: str,
        queue_timeout_url: str,
        remarks: str = "status",
        occasion: str = "",
    ) -> TransactionStatusAccepted:
        if not self.config.initiator_name or not self.config.security_credential:
            raise DarajaInvalidRequest(
                LOCAL_VALIDATION,
                "Transaction Status needs an initiator name and security credential",
                "Initiator",
            )
        if not transaction_id:
            raise DarajaInvalidRequest(LOCAL_VALIDATION, "required", "TransactionID")
        body = await self._post(
            "/mpesa/transactionstatus/v1/query",
            {
                "Initiator": self.config.initiator_name,
                "SecurityCredential": self.config.security_credential,
                "CommandID": "TransactionStatusQuery",
                "TransactionID": transaction_id,
                "PartyA": self.config.shortcode,
                "IdentifierType": "4",  # organisation shortcode
                "ResultURL": _url(result_url, "ResultURL"),
                "QueueTimeOutURL": _url(queue_timeout_url, "QueueTimeOutURL"),
                "Remarks": remarks or "status",
                "Occasion": occasion,
            },
        )
        _require_response_code(body)
        return TransactionStatusAccepted(
            originator_conversation_id=str(body.get("OriginatorConversationID", "")),
            conversation_id=str(body.get("ConversationID", "")),
            response_description=str(body.get("ResponseDescription", "")),
        )


# ---------------------------------------------------------------------------------------
# Reading Daraja's answers


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _is_spike_arrest(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    body = _json(response)
    return isinstance(body, dict) and body.get("errorCode") == SPIKE_ARREST


def _error_from(response: httpx.Response, body: Any) -> DarajaError | None:
    status = response.status_code
    code = body.get("errorCode") if isinstance(body, dict) else None
    if status < 400 and code is None:
        if not isinstance(body, dict):
            return DarajaUnavailable(str(status), "Daraja answered without a JSON object")
        return None
    message = str(body.get("errorMessage", "")) if isinstance(body, dict) else ""
    message = message or response.reason_phrase or f"HTTP {status}"
    code = str(code) if code else str(status)
    if code == INVALID_REQUEST or (status == 400 and code == "400"):
        found = _FIELD_IN_MESSAGE.search(message)
        return DarajaInvalidRequest(code, message, field=found.group(1) if found else None)
    if code in (INVALID_ACCESS_TOKEN, INVALID_AUTHENTICATION) or status == 401:
        return DarajaAuthError(code, message)
    if code in (SPIKE_ARREST, QUOTA_VIOLATION) or status == 429:
        return DarajaRateLimited(code, message)
    if code == MERCHANT_ERROR and "wrong credentials" in message.lower():
        return DarajaWrongCredentials(code, message)
    if code == MERCHANT_ERROR or status < 500:
        return DarajaError(code, message)
    return DarajaUnavailable(code, message)


def _require_response_code(body: dict[str, Any]) -> None:
    response_code = str(body.get("ResponseCode", "0")).strip()
    if response_code != "0":
        raise DarajaError(response_code, str(body.get("ResponseDescription", "refused")))
