"""The emulator's own endpoints under /emulator: what tests and the demo use to register
apps, choose STK outcomes, make a customer pay, re-deliver callbacks, inject faults and read
the log. None of this exists at Safaricom."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from kiunga.integrations.emulation.control import BadControlRequest, guarded, problem
from kiunga.integrations.mpesa.callbacks import daraja_timestamp, hash_msisdn
from kiunga.integrations.mpesa.emulator.state import (
    FAULTS,
    EmulatedApp,
    EmulatorState,
    Outcome,
    Payment,
)
from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery

_PHONE = re.compile(r"^(?:\+?254|0)?([17]\d{8})$")


def _msisdn(value: Any) -> str:
    match = _PHONE.match(re.sub(r"[\s-]", "", str(value or "")))
    if not match:
        raise BadControlRequest(f"not a Kenyan mobile number: {value!r}")
    return "254" + match.group(1)


def _shillings(value: Any) -> int:
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or (cents and cents.strip("0")) or int(whole) < 1:
        raise BadControlRequest(f"amount must be whole shillings, at least 1: {value!r}")
    return int(whole)


def mask(msisdn: str) -> str:
    """254712345149 → 2547****149, the way Daraja hid C2B payers' numbers until 2024."""
    return f"{msisdn[:4]}****{msisdn[-3:]}"


def _payer_msisdn(msisdn: str, body: dict[str, Any]) -> str:
    """The MSISDN as the C2B notice carries it: hashed (SHA-256 hex, as Safaricom sends it
    since July 2024), masked, or plain."""
    if body.get("hash_msisdn"):
        return hash_msisdn(msisdn)
    return mask(msisdn) if body.get("mask_msisdn") else msisdn


def _accepted(entry: dict[str, Any], response_type: str) -> bool:
    """Did the ISP's validation accept? Unreachable → the registered ResponseType decides."""
    answer = entry.get("response")
    status = entry.get("status")
    if status is None or status >= 400 or not isinstance(answer, dict):
        return response_type == "Completed"
    return str(answer.get("ResultCode", "")).strip() == "0"


def _delivery(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "log_id": entry["id"],
        "status": entry["status"],
        "response": entry["response"],
        "error": entry["error"],
    }


def build_control_routes(state: EmulatorState) -> list[HTTPRouteHandler]:
    # --- apps --------------------------------------------------------------------------------

    @post("/emulator/apps", status_code=201)
    async def register_app(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            app = EmulatedApp(**body)
            state.add_app(app)
            return Response(app.public(), status_code=201)

        return await guarded(request, action)

    @get("/emulator/apps", sync_to_thread=False)
    def list_apps() -> list[dict[str, Any]]:
        return [app.public() for app in state.apps.values()]

    # --- STK outcomes -------------------------------------------------------------------------

    @post("/emulator/stk/outcomes", status_code=200)
    async def set_outcome(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            phone = _msisdn(body.get("phone"))
            try:
                outcome = Outcome(body.get("outcome"))
            except ValueError:
                known = ", ".join(o.value for o in Outcome)
                raise BadControlRequest(f"outcome must be one of: {known}") from None
            state.set_outcome(phone, outcome)
            return Response({"phone": phone, "outcome": outcome.value})

        return await guarded(request, action)

    @delete("/emulator/stk/outcomes", status_code=204, sync_to_thread=False)
    def clear_outcomes() -> None:
        state.outcomes.clear()

    @get("/emulator/stk/{checkout_request_id:str}", sync_to_thread=False)
    def stk_request(checkout_request_id: FromPath[str]) -> Response:
        stk = state.stk.get(checkout_request_id)
        if stk is None:
            return problem("unknown CheckoutRequestID", 404)
        return Response(asdict(stk))

    # --- a customer paying the paybill or till ---------------------------------------

    @post("/emulator/c2b/pay", status_code=200)
    async def c2b_pay(request: Request) -> Response:
        return await guarded(request, pay)

    async def pay(body: dict[str, Any]) -> Response:
        shortcode = str(body.get("shortcode") or "").strip()
        app = state.app_for_shortcode(shortcode)
        if app is None:
            return problem(f"no app has shortcode {shortcode!r}", 404)
        amount = _shillings(body.get("amount"))
        msisdn = _msisdn(body.get("msisdn"))
        duplicates = int(body.get("duplicates") or 0)
        if not 0 <= duplicates <= 50:
            raise BadControlRequest("duplicates must be between 0 and 50")
        names = [str(body.get(key, default)) for key, default in
                 (("first_name", "John"), ("middle_name", ""), ("last_name", "Doe"))]  # fmt: skip
        registration = (
            state.c2b_urls.get(shortcode)
            or state.c2b_urls.get(app.shortcode)
            or (state.c2b_urls.get(app.till_number) if app.till_number else None)
        )
        now = datetime.now(UTC)
        trans_id = state.receipt()
        paybill = app.shortcode_type == "paybill" and shortcode == app.shortcode
        notice = {
            "TransactionType": "Pay Bill" if paybill else "Buy Goods",
            "TransID": trans_id,
            "TransTime": daraja_timestamp(now),
            "TransAmount": f"{amount}.00",
            "BusinessShortCode": shortcode,
            "BillRefNumber": str(body.get("bill_ref_number") or ""),
            "InvoiceNumber": str(body.get("invoice_number") or ""),
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": _payer_msisdn(msisdn, body),
            "FirstName": names[0],
            "MiddleName": names[1],
            "LastName": names[2],
        }
        result: dict[str, Any] = {
            "trans_id": trans_id,
            "registered": registration is not None,
            "accepted": True,
            "validation": None,
            "confirmations": [],
            "notice": notice,
        }
        if registration and registration.get("ValidationURL"):
            entry = await state.deliver(
                "c2b_validation", registration["ValidationURL"], notice, trans_id=trans_id
            )
            result["validation"] = _delivery(entry)
            result["accepted"] = _accepted(entry, registration["ResponseType"])
        if not result["accepted"]:
            return Response(result)
        payer = " ".join(name for name in names if name)
        state.record_c2b_payment(
            Payment(trans_id, shortcode, amount, msisdn, payer, notice["TransactionType"], now)
        )
        confirmation = {**notice, "OrgAccountBalance": f"{state.balances[shortcode]}.00"}
        result["notice"] = confirmation
        if registration:
            for _ in range(duplicates + 1):
                entry = await state.deliver(
                    "c2b_confirmation",
                    registration["ConfirmationURL"],
                    confirmation,
                    trans_id=trans_id,
                )
                result["confirmations"].append(_delivery(entry))
        return Response(result)

    # --- re-delivery of any earlier callback ---------------------------------------------

    @post("/emulator/redeliver", status_code=200)
    async def redeliver(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            original = state.find_log(int(body.get("log_id") or 0))
            if original is None or original.get("direction") != "out":
                return problem("log_id must name a callback the emulator sent", 404)
            extra = {
                key: original[key] for key in ("trans_id", "checkout_request_id") if key in original
            }
            entry = await state.deliver(
                original["kind"],
                original["url"],
                original["body"],
                redelivery_of=original["id"],
                **extra,
            )
            return Response(entry)

        return await guarded(request, action)

    # --- faults, settings, log ------------------------------------------------------------

    @post("/emulator/faults", status_code=200)
    async def add_fault(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            kind = str(body.get("kind") or "")
            if kind not in FAULTS:
                raise BadControlRequest(f"kind must be one of: {', '.join(FAULTS)}")
            count = int(body.get("count", 1))
            path_prefix = str(body.get("path_prefix") or "/mpesa/")
            state.add_fault(kind, count, path_prefix)
            return Response([asdict(fault) for fault in state.faults])

        return await guarded(request, action)

    @delete("/emulator/faults", status_code=204, sync_to_thread=False)
    def clear_faults() -> None:
        state.faults.clear()

    @post("/emulator/settings", status_code=200)
    async def change_settings(request: Request) -> Response:
        async def action(body: dict[str, Any]) -> Response:
            if "callback_delay" in body:
                state.callback_delay = max(0.0, float(body["callback_delay"]))
            if "token_expires_in" in body:
                state.token_expires_in = max(1, int(body["token_expires_in"]))
            return Response(
                {
                    "callback_delay": state.callback_delay,
                    "token_expires_in": state.token_expires_in,
                }
            )

        return await guarded(request, action)

    @get("/emulator/log", sync_to_thread=False)
    def read_log(
        kind: FromQuery[str | None] = None,
        direction: FromQuery[str | None] = None,
        since: FromQuery[int] = 0,
    ) -> list[dict[str, Any]]:
        return [
            entry
            for entry in list(state.log)
            if entry["id"] > since
            and (kind is None or entry["kind"] == kind)
            and (direction is None or entry["direction"] == direction)
        ]

    @delete("/emulator/log", status_code=204, sync_to_thread=False)
    def clear_log() -> None:
        state.log.clear()

    @get("/emulator/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return [
        register_app,
        list_apps,
        set_outcome,
        clear_outcomes,
        stk_request,
        c2b_pay,
        redeliver,
        add_fault,
        clear_faults,
        change_settings,
        read_log,
        clear_log,
        health,
    ]
