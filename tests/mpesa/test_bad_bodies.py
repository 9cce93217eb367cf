"""Callbacks no real Daraja should send, over HTTP to the app, for every callback URL Kiunga
serves: each is answered in Daraja's shape (never a 5xx), stored as it came and flagged with
a reason, and the good callback after it is still processed."""

from __future__ import annotations

import json

import pytest
from kiunga.tenants.billing import ledger
from kiunga.tenants.mpesa.models import CallbackOutcome, MpesaCallback, MpesaRequest, RequestStatus
from sqlalchemy import select

from .conftest import c2b_body, stk_body

# 30,000 levels fit in 64 KB and are far past what json.loads can recurse into.
DEEP = b'{"Body":' + b"[" * 30_000 + b"]" * 30_000 + b"}"
LONG_ID = "R" * 41


def _c2b(trans_id: str, **change) -> bytes:
    return json.dumps({**c2b_body(trans_id, "100", "NOBODY"), **change}).encode()


def _stk(checkout: str, **items) -> bytes:
    body = stk_body(checkout, amount=100, receipt="RBAD000001")
    for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
        if item["Name"] in items:
            item["Value"] = items[item["Name"]]
    return json.dumps(body).encode()


def _result(**change) -> bytes:
    result = {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "1236-7134259-1",
        "ConversationID": "AG_20191219_00004e48cf7e3533f581",
        "TransactionID": "NLJ41HAY6Q",
        **change,
    }
    return json.dumps({"Result": result}).encode()


# Bodies that each broke something before: Python's recursion, PostgreSQL's jsonb (NUL, a
# lone surrogate, NaN), a column's length, bigint's range, datetime's range.
COMMON = {
    "deep": DEEP,
    "nul": b'{"Body": "a\\u0000b", "TransID": "RNUL000001"}',
    "surrogate": b'{"Body": "\\ud800", "TransID": "RSUR000001"}',
    "nan": b'{"Body": NaN, "TransAmount": Infinity}',
    "huge_float": b'{"Body": 1e999}',
}
C2B = {
    **COMMON,
    "long_trans_id": _c2b(LONG_ID),
    "amount_over_bigint": _c2b("RBIG000001", TransAmount="1E+30"),
    "year_one": _c2b("RYR1000001", TransTime="00010101000000"),
    "nul_in_name": _c2b("RNAM000001", FirstName="Ach\x00ieng"),
}
# For the request the good callback pays afterwards.
STK = {
    **COMMON,
    "long_receipt": _stk("ws_CO_GOOD1", MpesaReceiptNumber=LONG_ID),
    "amount_over_bigint": _stk("ws_CO_GOOD1", Amount=1e30),
    "year_one": _stk("ws_CO_GOOD1", TransactionDate="00010101000000"),
    "nul_in_receipt": _stk("ws_CO_GOOD1", MpesaReceiptNumber="RBAD\x00001"),
}
RESULT = {**COMMON, "nul_in_desc": _result(ResultDesc="ok\x00")}

CASES = [
    *(("c2b/validation", name, body) for name, body in C2B.items()),
    *(("c2b/confirmation", name, body) for name, body in C2B.items()),
    *(("stk", name, body) for name, body in STK.items()),
    *(("result", name, body) for name, body in RESULT.items()),
    *(("timeout", name, body) for name, body in RESULT.items()),
]


def _daraja_shaped(kind: str, answer: dict) -> None:
    assert set(answer) == {"ResultCode", "ResultDesc"}, answer
    if kind == "c2b/validation":
        assert answer["ResultCode"] == "C2B00016"  # refused: Safaricom reverses the payment
    elif kind == "c2b/confirmation":
        assert answer["ResultCode"] == "0"
    else:
        assert answer["ResultCode"] == 0


async def _pending_request(session_for, isp, subscriber, checkout: str) -> int:
    async with session_for(isp) as session:
        request = MpesaRequest(
            subscriber_id=subscriber.id,
            account_reference=subscriber.account_number,
            phone="+254708374149",
            amount=10_000,
            checkout_request_id=checkout,
            requested_by="test",
        )
        session.add(request)
        await session.flush()
        return request.id


@pytest.mark.parametrize(("kind", "name", "raw"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
async def test_a_bad_body_is_stored_flagged_and_answered_and_the_next_one_processed(
    kind, name, raw, isp, add_subscriber, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    request_id = await _pending_request(session_for, isp, subscriber, "ws_CO_GOOD1")
    client = client_for("daraja.example")

    response = await client.post(isp.hook(kind), content=raw)
    assert response.status_code == 200, response.text
    _daraja_shaped(kind, response.json())
    async with session_for(isp) as session:
        stored = list(await session.scalars(select(MpesaCallback)))
    assert len(stored) == 1
    assert stored[0].raw_body == raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    assert stored[0].outcome is CallbackOutcome.FLAGGED
    assert stored[0].flag == "malformed" and stored[0].detail

    good = {
        "c2b/validation": json.dumps(c2b_body("RGOOD00001", "100", subscriber.account_number)),
        "c2b/confirmation": json.dumps(c2b_body("RGOOD00001", "100", subscriber.account_number)),
        "stk": json.dumps(stk_body("ws_CO_GOOD1", amount=100, receipt="RGOOD00001")),
        "result": _result().decode(),
        "timeout": _result().decode(),
    }[kind]
    after = await client.post(isp.hook(kind), content=good)
    assert after.status_code == 200 and str(after.json()["ResultCode"]) == "0"
    async with session_for(isp) as session:
        latest = await session.scalar(select(MpesaCallback).order_by(MpesaCallback.id.desc()))
        assert latest.flag is None, latest.detail
        if kind in ("c2b/confirmation", "stk"):
            assert latest.outcome is CallbackOutcome.CREDITED
            assert await ledger.balance(session, subscriber.id) == 10_000
        if kind == "stk":
            paid = await session.get(MpesaRequest, request_id)
            assert paid.status is RequestStatus.PAID
    await check_invariants(isp)


async def test_a_body_over_64_kb_is_refused_413_in_darajas_shape_and_nothing_stored(
    isp, client_for, session_for
):
    client = client_for("daraja.example")
    huge = b'{"Body":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for kind in ("c2b/validation", "c2b/confirmation", "stk", "result", "timeout"):
        response = await client.post(isp.hook(kind), content=huge)
        assert response.status_code == 413
        assert set(response.json()) == {"ResultCode", "ResultDesc"}
        assert str(response.json()["ResultCode"]) != "0"
    async with session_for(isp) as session:
        assert await session.scalar(select(MpesaCallback.id)) is None
