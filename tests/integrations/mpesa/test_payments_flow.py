"""STK push outcomes, STK Query, C2B payments and Transaction Status: the client and the
emulator over real HTTP, and the emulator's callbacks reaching a real HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace

import pytest
from kiunga.integrations.mpesa.callbacks import (
    c2b_reject,
    parse_c2b,
    parse_stk_callback,
    parse_transaction_status_result,
)
from kiunga.integrations.mpesa.client import DarajaClient, DarajaInvalidRequest


async def stk(client: DarajaClient, receiver, phone: str, amount_minor: int = 25_000):
    path = receiver.new_path("stk")
    accepted = await client.stk_push(
        phone=phone,
        amount_minor=amount_minor,
        account_reference="ACC-7",
        description="Home 10Mbps",
        callback_url=receiver.url + path,
    )
    return accepted, path


async def settled_query(client: DarajaClient, checkout_request_id: str):
    for _ in range(200):
        result = await client.stk_query(checkout_request_id)
        if not result.pending:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("the STK request stayed pending")


async def test_stk_success_callback_and_query(new_app, client_for, receiver):
    client = client_for(new_app())
    accepted, path = await stk(client, receiver, "+254708374149", 25_000)
    assert accepted.merchant_request_id and accepted.customer_message
    early = await client.stk_query(accepted.checkout_request_id)
    assert early.pending and early.result_code is None
    [delivered] = await asyncio.to_thread(receiver.wait_for, path)
    callback = parse_stk_callback(delivered.body)
    assert callback.succeeded
    assert callback.checkout_request_id == accepted.checkout_request_id
    assert callback.merchant_request_id == accepted.merchant_request_id
    assert callback.amount_minor == 25_000
    assert callback.phone == "+254708374149"
    assert callback.receipt and len(callback.receipt) == 10 and callback.receipt.isupper()
    assert callback.transaction_time is not None
    result = await client.stk_query(accepted.checkout_request_id)
    assert (result.pending, result.result_code, result.succeeded) == (False, 0, True)


async def test_receipts_are_unique_and_balance_items_come_without_value(
    new_app, client_for, receiver
):
    client = client_for(new_app())
    paths = [(await stk(client, receiver, "+254708374149", 100))[1] for _ in range(4)]
    bodies = [(await asyncio.to_thread(receiver.wait_for, p))[0].body for p in paths]
    callbacks = [parse_stk_callback(body) for body in bodies]
    assert len({c.receipt for c in callbacks}) == 4
    balances = [c.metadata for c in callbacks if "Balance" in c.metadata]
    assert balances and all(m["Balance"] is None for m in balances)
    items = bodies[0]["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert all(set(item) <= {"Name", "Value"} for item in items)


@pytest.mark.parametrize(
    ("phone", "code", "desc"),
    [
        ("+254712341032", 1032, "Request cancelled by user"),
        ("+254712340001", 1, "The balance is insufficient for the transaction."),
        ("+254712341037", 1037, "DS timeout user cannot be reached"),
    ],
)
async def test_stk_failures_by_phone_convention(phone, code, desc, new_app, client_for, receiver):
    client = client_for(new_app())
    accepted, path = await stk(client, receiver, phone)
    [delivered] = await asyncio.to_thread(receiver.wait_for, path)
    body = delivered.body["Body"]["stkCallback"]
    assert "CallbackMetadata" not in body
    callback = parse_stk_callback(delivered.body)
    assert (callback.result_code, callback.result_desc) == (code, desc)
    assert callback.receipt is None and callback.amount_minor is None
    result = await client.stk_query(accepted.checkout_request_id)
    assert (result.result_code, result.result_desc, result.pending) == (code, desc, False)


async def test_stk_outcome_chosen_by_the_control_endpoint(new_app, client_for, control, receiver):
    answer = control.post(
        "/emulator/stk/outcomes", json={"phone": "0722000555", "outcome": "cancelled"}
    )
    assert answer.json() == {"phone": "254722000555", "outcome": "cancelled"}
    client = client_for(new_app())
    _, path = await stk(client, receiver, "+254722000555")
    [delivered] = await asyncio.to_thread(receiver.wait_for, path)
    assert parse_stk_callback(delivered.body).result_code == 1032
    refused = control.post("/emulator/stk/outcomes", json={"phone": "0722", "outcome": "x"})
    assert refused.status_code == 400


async def test_no_callback_means_stk_query_tells(new_app, client_for, control, receiver, daraja):
    client = client_for(new_app())
    accepted, path = await stk(client, receiver, "+254712340000")
    assert (await client.stk_query(accepted.checkout_request_id)).pending
    result = await settled_query(client, accepted.checkout_request_id)
    assert (result.pending, result.result_code) == (False, 0)
    await asyncio.sleep(daraja.state.callback_delay)
    assert receiver.at(path) == []
    record = control.get(f"/emulator/stk/{accepted.checkout_request_id}").json()
    assert record["outcome"] == "no_callback" and record["receipt"]


async def test_stk_query_of_an_unknown_request_names_the_field(new_app, client_for):
    with pytest.raises(DarajaInvalidRequest) as raised:
        await client_for(new_app()).stk_query("ws_CO_00000000000000000000")
    assert raised.value.field == "CheckoutRequestID"


async def test_till_push_uses_buy_goods_with_the_till_as_party_b(
    new_app, client_for, control, receiver
):
    config = new_app(shortcode_type="till", till_number="5123456")
    client = client_for(config)
    accepted, path = await stk(client, receiver, "+254708374149")
    [sent] = control.requests_for("stk_push", config.shortcode)
    assert sent["body"]["TransactionType"] == "CustomerBuyGoodsOnline"
    assert sent["body"]["BusinessShortCode"] == config.shortcode
    assert sent["body"]["PartyB"] == "5123456"
    [delivered] = await asyncio.to_thread(receiver.wait_for, path)
    assert parse_stk_callback(delivered.body).succeeded


# ---------------------------------------------------------------------------------------
# C2B


async def register(client: DarajaClient, receiver, response_type: str = "Completed"):
    validation, confirmation = receiver.new_path("validate"), receiver.new_path("confirm")
    registered = await client.register_c2b_urls(
        validation_url=receiver.url + validation,
        confirmation_url=receiver.url + confirmation,
        response_type=response_type,
    )
    assert registered.originator_conversation_id
    assert registered.response_description == "Success"
    return validation, confirmation


async def test_c2b_payment_validation_then_confirmation_then_duplicates(
    new_app, client_for, control, receiver
):
    config = new_app()
    validation, confirmation = await register(client_for(config), receiver)
    paid = control.post(
        "/emulator/c2b/pay",
        json={
            "shortcode": config.shortcode,
            "amount": 1500,
            "bill_ref_number": "ACC-0042",
            "msisdn": "254708374149",
            "duplicates": 2,
        },
    ).json()
    assert paid["accepted"] and paid["registered"]
    assert paid["validation"]["response"] == {"ResultCode": "0", "ResultDesc": "Accepted"}
    assert len(paid["confirmations"]) == 3
    assert all(c["status"] == 200 for c in paid["confirmations"])

    [validated] = receiver.at(validation)
    confirmed = receiver.at(confirmation)
    assert len(confirmed) == 3
    assert validated.at <= confirmed[0].at
    assert {c.body["TransID"] for c in confirmed} == {paid["trans_id"]}
    notice = parse_c2b(confirmed[0].body)
    assert notice.trans_id == paid["trans_id"]
    assert notice.amount_minor == 150_000
    assert notice.bill_ref_number == "ACC-0042"
    assert notice.business_shortcode == config.shortcode
    assert notice.transaction_type == "Pay Bill"
    assert notice.phone == "+254708374149"
    assert notice.org_account_balance_minor is not None
    assert parse_c2b(validated.body).org_account_balance_minor is None


async def test_c2b_masked_msisdn(new_app, client_for, control, receiver):
    config = new_app()
    _, confirmation = await register(client_for(config), receiver)
    paid = control.post(
        "/emulator/c2b/pay",
        json={
            "shortcode": config.shortcode,
            "amount": "200.00",
            "bill_ref_number": "ACC-9",
            "msisdn": "+254712345149",
            "mask_msisdn": True,
        },
    ).json()
    [confirmed] = receiver.at(confirmation)
    notice = parse_c2b(confirmed.body)
    assert notice.msisdn_raw == "2547****149" and notice.phone is None
    assert notice.trans_id == paid["trans_id"] and notice.amount_minor == 20_000


async def test_c2b_rejected_at_validation_is_not_confirmed(new_app, client_for, control, receiver):
    config = new_app()
    validation, confirmation = await register(client_for(config), receiver)
    receiver.answer(validation, c2b_reject("C2B00012", "Unknown account"))
    paid = control.post(
        "/emulator/c2b/pay",
        json={
            "shortcode": config.shortcode,
            "amount": 50,
            "bill_ref_number": "NOPE",
            "msisdn": "0708374149",
        },
    ).json()
    assert paid["accepted"] is False
    assert paid["validation"]["response"]["ResultCode"] == "C2B00012"
    assert paid["confirmations"] == [] and receiver.at(confirmation) == []


@pytest.mark.parametrize(("response_type", "confirmed"), [("Completed", 1), ("Cancelled", 0)])
async def test_c2b_validation_failure_follows_the_response_type(
    response_type, confirmed, new_app, client_for, control, receiver
):
    config = new_app()
    validation, confirmation = await register(client_for(config), receiver, response_type)
    receiver.answer(validation, {"error": "boom"}, status=500)
    paid = control.post(
        "/emulator/c2b/pay",
        json={
            "shortcode": config.shortcode,
            "amount": 70,
            "bill_ref_number": "A",
            "msisdn": "0708374149",
        },
    ).json()
    assert paid["accepted"] is bool(confirmed)
    assert len(receiver.at(confirmation)) == confirmed


async def test_c2b_to_a_till(new_app, client_for, control, receiver):
    config = new_app(shortcode_type="till", till_number="5654321")
    _, confirmation = await register(client_for(config), receiver)
    control.post(
        "/emulator/c2b/pay",
        json={"shortcode": "5654321", "amount": 30, "bill_ref_number": "", "msisdn": "0708374149"},
    )
    [confirmed] = receiver.at(confirmation)
    notice = parse_c2b(confirmed.body)
    assert notice.transaction_type == "Buy Goods" and notice.business_shortcode == "5654321"


async def test_register_urls_for_a_shortcode_the_app_does_not_own(new_app, client_for, receiver):
    config = new_app()
    other = replace(config, shortcode="999999")
    with pytest.raises(DarajaInvalidRequest) as raised:
        await register(client_for(other), receiver)
    assert raised.value.field == "ShortCode"


async def test_any_callback_can_be_redelivered(new_app, client_for, control, receiver):
    client = client_for(new_app())
    accepted, path = await stk(client, receiver, "+254708374149")
    [first] = await asyncio.to_thread(receiver.wait_for, path)
    record = control.get(f"/emulator/stk/{accepted.checkout_request_id}").json()
    again = control.post("/emulator/redeliver", json={"log_id": record["callback_log_id"]})
    assert again.status_code == 200 and again.json()["redelivery_of"] == record["callback_log_id"]
    second = receiver.at(path)[1]
    assert second.body == first.body
    assert control.post("/emulator/redeliver", json={"log_id": 10**9}).status_code == 404


# ---------------------------------------------------------------------------------------
# Transaction Status


async def test_transaction_status_result_for_an_stk_receipt(new_app, client_for, receiver):
    config = new_app()
    client = client_for(config)
    _, path = await stk(client, receiver, "+254708374149", 40_000)
    [delivered] = await asyncio.to_thread(receiver.wait_for, path)
    receipt = parse_stk_callback(delivered.body).receipt
    result_path, timeout_path = receiver.new_path("result"), receiver.new_path("timeout")
    accepted = await client.transaction_status(
        transaction_id=receipt,
        result_url=receiver.url + result_path,
        queue_timeout_url=receiver.url + timeout_path,
        occasion="recheck",
    )
    assert accepted.conversation_id.startswith("AG_") and accepted.originator_conversation_id
    [arrived] = await asyncio.to_thread(receiver.wait_for, result_path)
    result = parse_transaction_status_result(arrived.body)
    assert result.succeeded and result.receipt == receipt
    assert result.amount_minor == 40_000 and result.status == "Completed"
    assert result.conversation_id == accepted.conversation_id
    assert result.debit_party_name.startswith("254708374149")


async def test_transaction_status_of_an_unknown_receipt_and_a_wrong_credential(
    new_app, client_for, receiver
):
    config = new_app()
    path = receiver.new_path("result")
    await client_for(config).transaction_status(
        transaction_id="ZZZ0000000",
        result_url=receiver.url + path,
        queue_timeout_url=receiver.url + path,
    )
    [unknown] = await asyncio.to_thread(receiver.wait_for, path)
    assert not parse_transaction_status_result(unknown.body).succeeded

    wrong = replace(config, security_credential="forged")
    path = receiver.new_path("result")
    await client_for(wrong).transaction_status(
        transaction_id="ZZZ0000000",
        result_url=receiver.url + path,
        queue_timeout_url=receiver.url + path,
    )
    [refused] = await asyncio.to_thread(receiver.wait_for, path)
    assert parse_transaction_status_result(refused.body).result_code == 2001


async def test_transaction_status_needs_an_initiator(new_app, client_for, control):
    config = new_app()
    bare = replace(config, initiator_name=None)
    with pytest.raises(DarajaInvalidRequest) as raised:
        await client_for(bare).transaction_status(
            transaction_id="X", result_url="http://x/r", queue_timeout_url="http://x/t"
        )
    assert raised.value.field == "Initiator"


async def test_c2b_hashed_msisdn_as_safaricom_sends_it_now(new_app, client_for, control, receiver):
    config = new_app()
    _, confirmation = await register(client_for(config), receiver)
    control.post(
        "/emulator/c2b/pay",
        json={
            "shortcode": config.shortcode,
            "amount": "200.00",
            "bill_ref_number": "ACC-9",
            "msisdn": "0712345149",
            "hash_msisdn": True,
        },
    ).raise_for_status()
    [confirmed] = receiver.at(confirmation)
    notice = parse_c2b(confirmed.body)
    # SHA-256 of the MSISDN in its 2547… form, in hex.
    digest = hashlib.sha256(b"254712345149").hexdigest()
    assert notice.msisdn_raw == digest and notice.msisdn_hash == digest
    assert notice.phone is None
