"""The Daraja API as the emulator serves it: the same paths, JSON bodies, error shapes and
callbacks as Safaricom's, checked as strictly as Daraja checks them."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
from datetime import datetime
from typing import Any

from kiunga.integrations.mpesa.callbacks import daraja_timestamp
from kiunga.integrations.mpesa.emulator.state import (
    FAULTS,
    EmulatedApp,
    EmulatorState,
    StkRequest,
)
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

_MSISDN = re.compile(r"^254[17]\d{8}$")
_URL = re.compile(r"^https?://[^\s/]+\S*$")
_TIMESTAMP = re.compile(r"^\d{14}$")


def daraja_error(code: str, message: str) -> dict[str, str]:
    request_id = f"{secrets.randbelow(90000) + 10000}-{secrets.randbelow(10**7)}-1"
    return {"requestId": request_id, "errorCode": code, "errorMessage": message}


class Refusal(Exception):
    """Answer Daraja's error instead of going on."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @classmethod
    def invalid(cls, field: str) -> Refusal:
        return cls(400, "400.002.02", f"Bad Request - Invalid {field}")


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _whole_amount(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_password(app: EmulatedApp, body: dict[str, Any]) -> None:
    timestamp = _text(body, "Timestamp")
    if not _TIMESTAMP.match(timestamp):
        raise Refusal.invalid("Timestamp")
    try:
        datetime.strptime(timestamp, "%Y%m%d%H%M%S")
        password = base64.b64decode(_text(body, "Password"), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Refusal(500, "500.001.1001", "Wrong credentials") from None
    expected = f"{app.shortcode}{app.passkey}{timestamp}"
    if not secrets.compare_digest(password.encode(), expected.encode()):
        raise Refusal(500, "500.001.1001", "Wrong credentials")


def build_daraja_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    tasks: set[asyncio.Task[None]] = set()

    def background(coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def reply(request: Request, kind: str, body: Any, status: int, answer: Any) -> Response:
        state.record(
            direction="in",
            kind=kind,
            method=request.method,
            path=request.url.path,
            body=body,
            status=status,
            response=answer,
        )
        if isinstance(answer, str):
            return Response(answer, status_code=status, media_type="text/plain")
        return Response(answer, status_code=status)

    def fault_reply(request: Request, kind: str, body: Any, fault: str) -> Response:
        status, code, message = FAULTS[fault]
        answer: Any = message if code is None else daraja_error(code, message)
        return reply(request, kind, body, status, answer)

    async def handle(request: Request, kind: str, action: Any) -> Response:
        """Faults, token and JSON checks shared by every API call, then `action`."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        fault = state.take_fault(request.url.path)
        if fault:
            return fault_reply(request, kind, body, fault)
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            answer = daraja_error("404.001.04", "Invalid Authentication Header")
            return reply(request, kind, body, 404, answer)
        app = state.app_for_token(authorization[7:].strip())
        if app is None:
            answer = daraja_error("404.001.03", "Invalid Access Token")
            return reply(request, kind, body, 404, answer)
        if not isinstance(body, dict):
            answer = daraja_error("400.002.05", "Invalid Request Payload")
            return reply(request, kind, body, 400, answer)
        try:
            answer = action(app, body)
        except Refusal as refusal:
            error = daraja_error(refusal.code, refusal.message)
            return reply(request, kind, body, refusal.status, error)
        return reply(request, kind, body, 200, answer)

    # --- OAuth -----------------------------------------------------------------------------

    @get("/oauth/v1/generate", sync_to_thread=False)
    def generate_token(request: Request) -> Response:
        fault = state.take_fault(request.url.path)
        if fault:
            return fault_reply(request, "oauth", None, fault)
        if request.query_params.get("grant_type") != "client_credentials":
            answer = daraja_error("400.008.02", "Invalid grant type passed")
            return reply(request, "oauth", None, 400, answer)
        app = state.app_for_basic_auth(request.headers.get("authorization"))
        if app is None:
            answer = daraja_error("400.008.01", "Invalid Authentication passed")
            return reply(request, "oauth", None, 400, answer)
        token = state.issue_token(app)
        answer = {"access_token": token, "expires_in": str(state.token_expires_in)}
        return reply(request, "oauth", {"consumer_key": app.consumer_key}, 200, answer)

    # --- STK push and query --------------------------------------------------------------

    def check_stk_shortcode(app: EmulatedApp, body: dict[str, Any]) -> str:
        shortcode = _text(body, "BusinessShortCode")
        if shortcode != app.shortcode:
            raise Refusal.invalid("BusinessShortCode")
        _check_password(app, body)
        return shortcode

    def accept_stk_push(app: EmulatedApp, body: dict[str, Any]) -> dict[str, Any]:
        shortcode = check_stk_shortcode(app, body)
        till = app.shortcode_type == "till"
        expected_type = "CustomerBuyGoodsOnline" if till else "CustomerPayBillOnline"
        if _text(body, "TransactionType") != expected_type:
            raise Refusal.invalid("TransactionType")
        amount = _whole_amount(body.get("Amount"))
        if amount is None or amount < 1:
            raise Refusal.invalid("Amount")
        if not _MSISDN.match(_text(body, "PartyA")):
            raise Refusal.invalid("PartyA")
        if _text(body, "PartyB") != (app.till_number if till else app.shortcode):
            raise Refusal.invalid("PartyB")
        phone = _text(body, "PhoneNumber")
        if not _MSISDN.match(phone):
            raise Refusal.invalid("PhoneNumber")
        callback_url = _text(body, "CallBackURL")
        if not _URL.match(callback_url):
            raise Refusal.invalid("CallBackURL")
        reference = _text(body, "AccountReference")
        if not 1 <= len(reference) <= 12:
            raise Refusal.invalid("AccountReference")
        if not 1 <= len(_text(body, "TransactionDesc")) <= 13:
            raise Refusal.invalid("TransactionDesc")
        stk = StkRequest(
            merchant_request_id=state.merchant_request_id(),
            checkout_request_id=state.checkout_request_id(),
            consumer_key=app.consumer_key,
            shortcode=shortcode,
            phone=phone,
            amount=amount,
            account_reference=reference,
            callback_url=callback_url,
            outcome=state.outcome_for(phone),
        )
        state.stk[stk.checkout_request_id] = stk
        background(settle(stk))
        message = "Success. Request accepted for processing"
        return {
            "MerchantRequestID": stk.merchant_request_id,
            "CheckoutRequestID": stk.checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": message,
            "CustomerMessage": message,
        }

    async def settle(stk: StkRequest) -> None:
        await asyncio.sleep(state.callback_delay)
        callback = state.decide(stk)
        if callback is not None:

            def remember(entry: dict[str, Any]) -> None:
                stk.callback_log_id = entry["id"]

            await state.deliver(
                "stk_callback",
                stk.callback_url,
                callback,
                on_logged=remember,
                checkout_request_id=stk.checkout_request_id,
            )

    def answer_stk_query(app: EmulatedApp, body: dict[str, Any]) -> dict[str, Any]:
        check_stk_shortcode(app, body)
        stk = state.stk.get(_text(body, "CheckoutRequestID"))
        if stk is None or stk.consumer_key != app.consumer_key:
            raise Refusal.invalid("CheckoutRequestID")
        if not stk.decided:
            raise Refusal(500, "500.001.1001", "The transaction is being processed")
        return {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": stk.merchant_request_id,
            "CheckoutRequestID": stk.checkout_request_id,
            "ResultCode": str(stk.result_code),
            "ResultDesc": stk.result_desc,
        }

    @post("/mpesa/stkpush/v1/processrequest", status_code=200)
    async def stk_push(request: Request) -> Response:
        return await handle(request, "stk_push", accept_stk_push)

    @post("/mpesa/stkpushquery/v1/query", status_code=200)
    async def stk_query(request: Request) -> Response:
        return await handle(request, "stk_query", answer_stk_query)

    # --- C2B URLs ------------------------------------------------------------------------

    def register_urls(app: EmulatedApp, body: dict[str, Any]) -> dict[str, Any]:
        shortcode = _text(body, "ShortCode")
        if not app.owns(shortcode):
            raise Refusal.invalid("ShortCode")
        response_type = _text(body, "ResponseType")
        if response_type not in ("Completed", "Cancelled"):
            raise Refusal.invalid("ResponseType")
        urls = {}
        for key in ("ConfirmationURL", "ValidationURL"):
            value = _text(body, key)
            if not _URL.match(value):
                raise Refusal.invalid(key)
            urls[key] = value
        state.c2b_urls[shortcode] = {**urls, "ResponseType": response_type}
        originator, _ = state.conversation_ids()
        return {
            "OriginatorCoversationID": originator,
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        }

    @post(["/mpesa/c2b/v1/registerurl", "/mpesa/c2b/v2/registerurl"], status_code=200)
    async def register_c2b_urls(request: Request) -> Response:
        return await handle(request, "c2b_register", register_urls)

    # --- Transaction Status ------------------------------------------------------------------

    def accept_status_query(app: EmulatedApp, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("Initiator", "SecurityCredential", "TransactionID", "Remarks"):
            if not _text(body, key):
                raise Refusal.invalid(key)
        if _text(body, "CommandID") != "TransactionStatusQuery":
            raise Refusal.invalid("CommandID")
        if not app.owns(_text(body, "PartyA")):
            raise Refusal.invalid("PartyA")
        if _text(body, "IdentifierType") not in ("1", "2", "4"):
            raise Refusal.invalid("IdentifierType")
        for key in ("ResultURL", "QueueTimeOutURL"):
            if not _URL.match(_text(body, key)):
                raise Refusal.invalid(key)
        originator, conversation = state.conversation_ids()
        background(send_status_result(app, body, originator, conversation))
        return {
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    async def send_status_result(
        app: EmulatedApp, body: dict[str, Any], originator: str, conversation: str
    ) -> None:
        await asyncio.sleep(state.callback_delay)
        result: dict[str, Any] = {
            "ResultType": 0,
            "OriginatorConversationID": originator,
            "ConversationID": conversation,
            "TransactionID": state.receipt(),
        }
        payment = state.payments.get(_text(body, "TransactionID"))
        initiator_ok = app.initiator_name in (None, _text(body, "Initiator"))
        credential_ok = app.security_credential in (None, _text(body, "SecurityCredential"))
        if not (initiator_ok and credential_ok):
            result.update(ResultCode=2001, ResultDesc="The initiator information is invalid.")
        elif payment is None or not app.owns(payment.shortcode):
            # The emulator's answer for a receipt it never issued.
            result.update(
                ResultCode="R000001", ResultDesc="The transaction receipt number does not exist."
            )
        else:
            done = int(daraja_timestamp(payment.completed_at))
            result.update(
                ResultCode=0,
                ResultDesc="The service request is processed successfully.",
                ResultParameters={
                    "ResultParameter": [
                        {
                            "Key": "DebitPartyName",
                            "Value": f"{payment.phone} - {payment.payer_name}",
                        },
                        {
                            "Key": "CreditPartyName",
                            "Value": f"{payment.shortcode} - {app.organisation_name}",
                        },
                        {"Key": "OriginatorConversationID", "Value": originator},
                        {"Key": "InitiatedTime", "Value": done},
                        {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
                        {"Key": "DebitPartyCharges"},
                        {"Key": "TransactionReason"},
                        {"Key": "ReasonType", "Value": payment.reason},
                        {"Key": "TransactionStatus", "Value": "Completed"},
                        {"Key": "FinalisedTime", "Value": done},
                        {"Key": "Amount", "Value": float(payment.amount)},
                        {"Key": "ConversationID", "Value": conversation},
                        {"Key": "ReceiptNo", "Value": payment.receipt},
                    ]
                },
            )
        result["ReferenceData"] = {
            "ReferenceItem": {"Key": "Occasion", "Value": _text(body, "Occasion")}
        }
        await state.deliver(
            "transaction_status_result", _text(body, "ResultURL"), {"Result": result}
        )

    @post("/mpesa/transactionstatus/v1/query", status_code=200)
    async def transaction_status(request: Request) -> Response:
        return await handle(request, "transaction_status", accept_status_query)

    return [
        generate_token,
        stk_push,
        stk_query,
        register_c2b_urls,
        transaction_status,
    ]
