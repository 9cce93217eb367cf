"""Daraja's callback bodies, read into typed values, and the answers Daraja expects back.

Pure functions, no I/O: the tenant side feeds them the JSON it received and stores what
they return. Every field is read by name (Daraja's item order is not a contract), amounts
become integer minor units through `Decimal`, phone numbers become E.164, and Daraja's
local timestamps (East Africa Time, `yyyyMMddHHmmss`) become aware UTC datetimes.

Nothing from a body reaches a typed column unchecked: the body is read with a depth limit
and must be storable as PostgreSQL jsonb (no NUL, no lone surrogate, no NaN or Infinity),
and every field is checked for length, characters and range. What fails is a
`CallbackError` naming the field, never another exception.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

# Kenya keeps East Africa Time all year (UTC+3, no daylight saving).
EAT = timezone(timedelta(hours=3), "EAT")

# STK result codes worth naming; any other non-zero code is a failure too.
STK_SUCCESS = 0
STK_INSUFFICIENT_FUNDS = 1
STK_CANCELLED_BY_USER = 1032
STK_USER_UNREACHABLE = 1037
STK_WRONG_PIN = 2001

# C2B validation rejection codes, as Safaricom defines them.
C2B_INVALID_MSISDN = "C2B00011"
C2B_INVALID_ACCOUNT_NUMBER = "C2B00012"
C2B_INVALID_AMOUNT = "C2B00013"
C2B_INVALID_KYC_DETAILS = "C2B00014"
C2B_INVALID_SHORTCODE = "C2B00015"
C2B_OTHER_ERROR = "C2B00016"

_TIMESTAMP = re.compile(r"^\d{14}$")
_PLAIN_MSISDN = re.compile(r"^\+?\d{9,15}$")
# Safaricom sends C2B payers' numbers as the SHA-256 of the MSISDN (2547…), in hex.
_HASHED_MSISDN = re.compile(r"^[0-9a-fA-F]{64}$")
# M-Pesa receipts are ten capital letters and digits (SLK4H7R2QX); some room, no more.
_RECEIPT = re.compile(r"^[A-Za-z0-9]{1,20}$")
# CheckoutRequestID ws_CO_191220191020363925, MerchantRequestID 29115-34620561-1.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_SHORTCODE = re.compile(r"^\d{1,12}$")

# Daraja's deepest body (an STK callback's metadata items) is five levels deep.
MAX_DEPTH = 16
# Far above any single M-Pesa transaction (KES 1 billion), far below bigint's range.
MAX_AMOUNT_MINOR = 100_000_000_000
# What a PostgreSQL integer column holds (result codes).
_INT32 = (-(2**31), 2**31 - 1)
_BIGINT_MAX = 2**63 - 1


class CallbackError(ValueError):
    """A callback body that does not have the shape Daraja sends."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AmountError(ValueError):
    """An amount that cannot be carried exactly (fractions of a cent, or of a shilling)."""


# ---------------------------------------------------------------------------------------
# Amounts, phones and times


def minor_from_amount(value: Any, ceiling: int = MAX_AMOUNT_MINOR) -> int:
    """An amount as Daraja writes it ("100.00", "100", 100, 1.0) → integer minor units.

    Refuses negative amounts, non-numbers, fractions of a cent and amounts over `ceiling`
    minor units (1E+30 is no payment, and would not fit a bigint).
    """
    if isinstance(value, bool) or value is None:
        raise AmountError(f"not an amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)  # 1.1 → "1.1", not the binary expansion
    text = str(value).strip()
    if len(text) > 40:
        raise AmountError(f"not an amount: {text[:40]!r}…")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise AmountError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise AmountError(f"not an amount: {value!r}")
    if amount < 0:
        raise AmountError(f"negative amount: {value!r}")
    if amount * 100 > ceiling:
        raise AmountError(f"amount out of range: {value!r}")
    minor = amount * 100
    if minor != minor.to_integral_value():
        raise AmountError(f"amount has a fraction of a cent: {value!r}")
    return int(minor)


def shillings_from_minor(amount_minor: int) -> int:
    """Minor units → whole shillings, as M-Pesa only moves whole shillings."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise AmountError(f"amount in minor units must be an integer, not {amount_minor!r}")
    if amount_minor % 100:
        raise AmountError(
            f"M-Pesa only moves whole shillings; {amount_minor} cents is "
            f"KES {amount_minor // 100}.{amount_minor % 100:02d}"
        )
    return amount_minor // 100


def phone_from_msisdn(msisdn: Any) -> str | None:
    """Daraja's MSISDN (254708374149, "254708374149") → "+254708374149".

    None when the number is masked ("2547****149") or hashed, as Daraja sends it for C2B
    on newer API versions: there is no phone to give then.
    """
    if msisdn is None or isinstance(msisdn, bool):
        return None
    text = str(msisdn).strip()
    if not _PLAIN_MSISDN.match(text):
        return None
    digits = text.lstrip("+")
    if digits.startswith("0") and len(digits) == 10:  # local form 07XXXXXXXX
        digits = "254" + digits[1:]
    return "+" + digits


def msisdn_digest(msisdn: Any) -> str | None:
    """The SHA-256 (hex, lower case) a hashed C2B MSISDN carries; None when not hashed."""
    text = str(msisdn).strip() if isinstance(msisdn, str) else ""
    return text.lower() if _HASHED_MSISDN.match(text) else None


def hash_msisdn(phone: str) -> str:
    """+254712345678 → the SHA-256 hex of "254712345678", as Safaricom hashes a payer."""
    return hashlib.sha256(phone.lstrip("+").encode("ascii")).hexdigest()


def time_from_daraja(value: Any) -> datetime:
    """Daraja's yyyyMMddHHmmss in East Africa Time (string or number) → aware UTC."""
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not _TIMESTAMP.match(text):
        raise ValueError(f"not a yyyyMMddHHmmss timestamp: {str(value)[:40]!r}")
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
        return local.astimezone(UTC)
    except OverflowError:  # year 1, whose UTC lies before datetime.min
        raise ValueError(f"timestamp out of range: {text}") from None


def daraja_timestamp(moment: datetime | None = None) -> str:
    """An aware datetime (default now) → Daraja's yyyyMMddHHmmss in East Africa Time."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("timestamp needs an aware datetime")
    return moment.astimezone(EAT).strftime("%Y%m%d%H%M%S")


# ---------------------------------------------------------------------------------------
# The body itself

# Strings (escapes included), to be skipped when counting brackets.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _nesting(text: str) -> int:
    """How deep the brackets of a JSON text go: an upper bound of what json.loads would
    recurse into (an unterminated string only makes it larger)."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_storable(value: Any, path: str) -> None:
    """PostgreSQL's jsonb refuses NUL in a string, and a lone surrogate is no UTF-8."""
    if isinstance(value, str):
        if "\x00" in value:
            raise CallbackError(path or "body", "a string holds NUL (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CallbackError(path or "body", "a string holds a lone surrogate") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(key, path)
            _check_storable(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]")


def read_body(raw: bytes) -> dict[str, Any]:
    """A callback's bytes → its JSON object, storable as jsonb; CallbackError("body", why)
    otherwise (not UTF-8, not JSON, nested deeper than MAX_DEPTH, NUL, NaN, …)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackError("body", "not UTF-8") from None
    if _nesting(text) > MAX_DEPTH:
        raise CallbackError("body", f"nested deeper than {MAX_DEPTH} levels")
    try:
        parsed = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except ValueError as error:
        raise CallbackError("body", f"not JSON: {str(error)[:200]}") from None
    if not isinstance(parsed, dict):
        raise CallbackError("body", "not a JSON object")
    _check_storable(parsed, "")
    return parsed


# ---------------------------------------------------------------------------------------
# Small readers that name the field that was wrong


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CallbackError(name, "missing or not an object")
    return value


def _checked(text: str, name: str, max_length: int, pattern: re.Pattern | None = None) -> str:
    if len(text) > max_length:
        raise CallbackError(name, f"longer than {max_length} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\t\n\r" for c in text):
        raise CallbackError(name, "holds control characters")
    if pattern is not None and text and not pattern.match(text):
        raise CallbackError(name, f"not a valid value: {_shown(text)}")
    return text


def _text(
    body: Mapping[str, Any],
    key: str,
    name: str,
    *,
    required: bool = True,
    max_length: int = 100,
    pattern: re.Pattern | None = None,
) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise CallbackError(name, "missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallbackError(name, f"not a string: {_shown(value)}")
    return _checked(str(value).strip(), name, max_length, pattern)


def _int(body: Mapping[str, Any], key: str, name: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or value is None:
        raise CallbackError(name, "missing" if value is None else f"not an integer: {value!r}")
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,10}", text):
        raise CallbackError(name, f"not an integer: {_shown(value)}")
    number = int(text)
    if not _INT32[0] <= number <= _INT32[1]:
        raise CallbackError(name, f"out of range: {number}")
    return number


def _code(body: Mapping[str, Any], key: str, name: str) -> int | str:
    text = _text(body, key, name, max_length=40)
    if not text:
        raise CallbackError(name, "empty")
    if re.fullmatch(r"-?\d{1,10}", text) and _INT32[0] <= int(text) <= _INT32[1]:
        return int(text)
    return text


def _amount(value: Any, name: str, ceiling: int = MAX_AMOUNT_MINOR) -> int:
    try:
        return minor_from_amount(value, ceiling)
    except AmountError as error:
        raise CallbackError(name, str(error)) from None


def _time(value: Any, name: str) -> datetime:
    try:
        return time_from_daraja(value)
    except ValueError as error:
        raise CallbackError(name, str(error)) from None


def _receipt(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallbackError(name, f"not a receipt: {_shown(value)}")
    return _checked(str(value).strip(), name, 20, _RECEIPT) or None


def _named_values(items: Any, name: str, key_field: str) -> dict[str, Any]:
    """[{"Name": "Amount", "Value": 1}, {"Name": "Balance"}] → {"Amount": 1, "Balance": None}."""
    if isinstance(items, Mapping):  # a single item is sometimes sent bare
        items = [items]
    if not isinstance(items, list):
        raise CallbackError(name, "not a list")
    values: dict[str, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get(key_field), str):
            raise CallbackError(f"{name}[{index}]", f"an item without a {key_field}")
        values[item[key_field]] = item.get("Value")
    return values


# ---------------------------------------------------------------------------------------
# STK push (Lipa na M-Pesa Online) callback


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: int
    result_desc: str
    amount_minor: int | None = None
    receipt: str | None = None
    phone: str | None = None
    transaction_time: datetime | None = None
    # Every CallbackMetadata item by name, as sent (items without a Value map to None).
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.result_code == STK_SUCCESS

    @property
    def cancelled(self) -> bool:
        return self.result_code == STK_CANCELLED_BY_USER


def parse_stk_callback(body: Any) -> StkCallback:
    """The JSON Daraja POSTs to an STK push's CallbackURL → `StkCallback`."""
    envelope = _mapping(_mapping(body, "body").get("Body"), "Body")
    callback = _mapping(envelope.get("stkCallback"), "Body.stkCallback")
    prefix = "Body.stkCallback."
    merchant_request_id = _text(
        callback, "MerchantRequestID", prefix + "MerchantRequestID", pattern=_REQUEST_ID
    )
    checkout_request_id = _text(
        callback, "CheckoutRequestID", prefix + "CheckoutRequestID", pattern=_REQUEST_ID
    )
    if not checkout_request_id:
        raise CallbackError(prefix + "CheckoutRequestID", "empty")
    result_code = _int(callback, "ResultCode", prefix + "ResultCode")
    result_desc = _text(
        callback, "ResultDesc", prefix + "ResultDesc", required=False, max_length=1000
    )

    raw_metadata = callback.get("CallbackMetadata")
    if raw_metadata is None:
        if result_code == STK_SUCCESS:
            raise CallbackError(prefix + "CallbackMetadata", "missing on a successful payment")
        return StkCallback(merchant_request_id, checkout_request_id, result_code, result_desc)

    items_name = prefix + "CallbackMetadata.Item"
    metadata = _named_values(
        _mapping(raw_metadata, prefix + "CallbackMetadata").get("Item"), items_name, "Name"
    )
    amount_minor = receipt = phone = transaction_time = None
    if metadata.get("Amount") is not None:
        amount_minor = _amount(metadata["Amount"], items_name + ".Amount")
    receipt = _receipt(metadata.get("MpesaReceiptNumber"), items_name + ".MpesaReceiptNumber")
    if metadata.get("PhoneNumber") is not None:
        phone = phone_from_msisdn(metadata["PhoneNumber"])
    if metadata.get("TransactionDate") is not None:
        transaction_time = _time(metadata["TransactionDate"], items_name + ".TransactionDate")
    if result_code == STK_SUCCESS:
        if amount_minor is None:
            raise CallbackError(items_name + ".Amount", "missing on a successful payment")
        if receipt is None:
            raise CallbackError(
                items_name + ".MpesaReceiptNumber", "missing on a successful payment"
            )
    return StkCallback(
        merchant_request_id,
        checkout_request_id,
        result_code,
        result_desc,
        amount_minor=amount_minor,
        receipt=receipt,
        phone=phone,
        transaction_time=transaction_time,
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------------
# C2B validation and confirmation (a customer paying the paybill or till)


@dataclass(frozen=True)
class C2BNotice:
    transaction_type: str
    trans_id: str
    trans_time: datetime
    amount_minor: int
    business_shortcode: str
    bill_ref_number: str
    invoice_number: str
    org_account_balance_minor: int | None
    third_party_trans_id: str
    msisdn_raw: str
    phone: str | None  # E.164, only when Daraja sent the number unmasked
    first_name: str
    middle_name: str
    last_name: str

    @property
    def payer_name(self) -> str:
        parts = (self.first_name, self.middle_name, self.last_name)
        return " ".join(part for part in parts if part)

    @property
    def msisdn_hash(self) -> str | None:
        """The payer's SHA-256 when Daraja sent the number hashed."""
        return msisdn_digest(self.msisdn_raw)


def parse_c2b(body: Any) -> C2BNotice:
    """The JSON Daraja POSTs to a C2B ValidationURL or ConfirmationURL → `C2BNotice`."""
    body = _mapping(body, "body")
    trans_id = _text(body, "TransID", "TransID", pattern=_RECEIPT)
    if not trans_id:
        raise CallbackError("TransID", "empty")
    shortcode = _text(body, "BusinessShortCode", "BusinessShortCode", pattern=_SHORTCODE)
    if not shortcode:
        raise CallbackError("BusinessShortCode", "empty")
    balance_text = _text(body, "OrgAccountBalance", "OrgAccountBalance", required=False)
    # As sent: a number, a masked one (2547****149) or a SHA-256 in hex (64 characters).
    msisdn_raw = _text(body, "MSISDN", "MSISDN", required=False, max_length=64)
    return C2BNotice(
        transaction_type=_text(body, "TransactionType", "TransactionType", required=False),
        trans_id=trans_id,
        trans_time=_time(body.get("TransTime"), "TransTime"),
        amount_minor=_amount(body.get("TransAmount"), "TransAmount"),
        business_shortcode=shortcode,
        bill_ref_number=_text(
            body, "BillRefNumber", "BillRefNumber", required=False, max_length=40
        ),
        invoice_number=_text(body, "InvoiceNumber", "InvoiceNumber", required=False),
        org_account_balance_minor=(
            # The paybill's balance: not a payment, so only bigint's range applies.
            _amount(balance_text, "OrgAccountBalance", _BIGINT_MAX) if balance_text else None
        ),
        third_party_trans_id=_text(body, "ThirdPartyTransID", "ThirdPartyTransID", required=False),
        msisdn_raw=msisdn_raw,
        phone=phone_from_msisdn(msisdn_raw),
        first_name=_text(body, "FirstName", "FirstName", required=False),
        middle_name=_text(body, "MiddleName", "MiddleName", required=False),
        last_name=_text(body, "LastName", "LastName", required=False),
    )


# ---------------------------------------------------------------------------------------
# Transaction Status result (POSTed to the ResultURL of a status query)


@dataclass(frozen=True)
class TransactionStatusResult:
    result_type: int
    # An int as Daraja usually sends it; a code that is not a number ("R000001") is kept as is.
    result_code: int | str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    receipt: str | None = None
    amount_minor: int | None = None
    status: str | None = None  # "Completed", "Failed", … as Daraja reports it
    debit_party_name: str | None = None
    credit_party_name: str | None = None
    initiated_time: datetime | None = None
    finalised_time: datetime | None = None
    # Every ResultParameter by Key, as sent.
    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0


def parse_transaction_status_result(body: Any) -> TransactionStatusResult:
    """The JSON Daraja POSTs to a Transaction Status query's ResultURL."""
    result = _mapping(_mapping(body, "body").get("Result"), "Result")
    parameters: dict[str, Any] = {}
    raw_parameters = result.get("ResultParameters")
    if raw_parameters is not None:
        parameters = _named_values(
            _mapping(raw_parameters, "Result.ResultParameters").get("ResultParameter"),
            "Result.ResultParameters.ResultParameter",
            "Key",
        )
    prefix = "Result.ResultParameters.ResultParameter."

    def text(key: str) -> str | None:
        value = parameters.get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    def moment(key: str) -> datetime | None:
        value = parameters.get(key)
        return None if value in (None, "") else _time(value, prefix + key)

    amount = parameters.get("Amount")
    result_type = result.get("ResultType")
    return TransactionStatusResult(
        result_type=0 if result_type is None else _int(result, "ResultType", "Result.ResultType"),
        result_code=_code(result, "ResultCode", "Result.ResultCode"),
        result_desc=_text(
            result, "ResultDesc", "Result.ResultDesc", required=False, max_length=1000
        ),
        originator_conversation_id=_text(
            result, "OriginatorConversationID", "Result.OriginatorConversationID", required=False
        ),
        conversation_id=_text(result, "ConversationID", "Result.ConversationID", required=False),
        transaction_id=_text(result, "TransactionID", "Result.TransactionID", required=False),
        receipt=text("ReceiptNo"),
        amount_minor=None if amount in (None, "") else _amount(amount, prefix + "Amount"),
        status=text("TransactionStatus"),
        debit_party_name=text("DebitPartyName"),
        credit_party_name=text("CreditPartyName"),
        initiated_time=moment("InitiatedTime"),
        finalised_time=moment("FinalisedTime"),
        parameters=parameters,
    )


# ---------------------------------------------------------------------------------------
# What to answer Daraja


def c2b_accept() -> dict[str, str]:
    """The answer to a C2B validation (accept the payment) or confirmation (received)."""
    return {"ResultCode": "0", "ResultDesc": "Accepted"}


def c2b_reject(code: str = C2B_INVALID_ACCOUNT_NUMBER, desc: str = "Rejected") -> dict[str, str]:
    """The answer to a C2B validation that refuses the payment; Safaricom reverses it."""
    if not re.fullmatch(r"C2B000(1[1-6])", code):
        raise ValueError(f"not a C2B rejection code (C2B00011…C2B00016): {code!r}")
    return {"ResultCode": code, "ResultDesc": desc}


def callback_ack() -> dict[str, Any]:
    """The answer to an STK callback or a Result/Timeout callback: received."""
    return {"ResultCode": 0, "ResultDesc": "Accepted"}
