"""Daraja's callback bodies, shaped as Safaricom sends them, read into typed values."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from kiunga.integrations.mpesa.callbacks import (
    AmountError,
    CallbackError,
    c2b_accept,
    c2b_reject,
    callback_ack,
    hash_msisdn,
    minor_from_amount,
    parse_c2b,
    parse_stk_callback,
    parse_transaction_status_result,
    read_body,
    shillings_from_minor,
)

STK_SUCCESS = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": 1.00},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}

STK_CANCELLED = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "8555-67195-1",
            "CheckoutRequestID": "ws_CO_27072017151044001",
            "ResultCode": 1032,
            "ResultDesc": "Request cancelled by user",
        }
    }
}

C2B_CONFIRMATION = {
    "TransactionType": "Pay Bill",
    "TransID": "RKTQDM7W6S",
    "TransTime": "20191122063845",
    "TransAmount": "1500.00",
    "BusinessShortCode": "600638",
    "BillRefNumber": "ACC-0042",
    "InvoiceNumber": "",
    "OrgAccountBalance": "49197.00",
    "ThirdPartyTransID": "",
    "MSISDN": "254708374149",
    "FirstName": "John",
    "MiddleName": "",
    "LastName": "Doe",
}

STATUS_RESULT = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "10571-7910404-1",
        "ConversationID": "AG_20191219_00004e48cf7e3533f581",
        "TransactionID": "NLJ41HAY6Q",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "DebitPartyName", "Value": "254708374149 - John Doe"},
                {"Key": "CreditPartyName", "Value": "600638 - Safaricom Test"},
                {"Key": "OriginatorConversationID", "Value": "10571-7910404-1"},
                {"Key": "InitiatedTime", "Value": 20191219102115},
                {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
                {"Key": "DebitPartyCharges"},
                {"Key": "TransactionReason"},
                {"Key": "ReasonType", "Value": "Pay Bill Online"},
                {"Key": "TransactionStatus", "Value": "Completed"},
                {"Key": "FinalisedTime", "Value": 20191219102115},
                {"Key": "Amount", "Value": 300.0},
                {"Key": "ConversationID", "Value": "AG_20191219_00004e48cf7e3533f581"},
                {"Key": "ReceiptNo", "Value": "NLJ7RT61SV"},
            ]
        },
        "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
    }
}


def test_stk_success_reads_items_by_name_and_tolerates_balance_without_value():
    callback = parse_stk_callback(STK_SUCCESS)
    assert callback.succeeded
    assert callback.merchant_request_id == "29115-34620561-1"
    assert callback.checkout_request_id == "ws_CO_191220191020363925"
    assert callback.amount_minor == 100
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.phone == "+254708374149"
    # 10:21:15 in Nairobi is 07:21:15 UTC
    assert callback.transaction_time == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)
    assert callback.metadata["Balance"] is None


def test_stk_items_in_another_order_read_the_same():
    shuffled = copy.deepcopy(STK_SUCCESS)
    items = shuffled["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    items.reverse()
    assert parse_stk_callback(shuffled) == parse_stk_callback(STK_SUCCESS)


def test_stk_failure_has_no_metadata():
    callback = parse_stk_callback(STK_CANCELLED)
    assert not callback.succeeded and callback.cancelled
    assert callback.result_code == 1032
    assert callback.result_desc == "Request cancelled by user"
    assert (callback.amount_minor, callback.receipt, callback.phone) == (None, None, None)
    assert callback.transaction_time is None


def test_stk_result_code_sent_as_a_string_is_read():
    body = copy.deepcopy(STK_CANCELLED)
    body["Body"]["stkCallback"]["ResultCode"] = "1"
    assert parse_stk_callback(body).result_code == 1


def _broken(path: list[str], value: object = None, delete: bool = False) -> dict:
    body = copy.deepcopy(STK_SUCCESS)
    target = body
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "Body"),
        ([], "body"),
        ({"Body": {}}, "Body.stkCallback"),
        (_broken(["Body", "stkCallback", "ResultCode"], "zero"), "Body.stkCallback.ResultCode"),
        (
            _broken(["Body", "stkCallback", "CheckoutRequestID"], delete=True),
            "Body.stkCallback.CheckoutRequestID",
        ),
        (
            _broken(["Body", "stkCallback", "CallbackMetadata"], delete=True),
            "Body.stkCallback.CallbackMetadata",
        ),
        (
            _broken(["Body", "stkCallback", "CallbackMetadata", "Item"], "x"),
            "Body.stkCallback.CallbackMetadata.Item",
        ),
        (
            _broken(["Body", "stkCallback", "CallbackMetadata", "Item"], [{"Value": 1}]),
            "Body.stkCallback.CallbackMetadata.Item[0]",
        ),
        (
            _broken(
                ["Body", "stkCallback", "CallbackMetadata", "Item"],
                [{"Name": "Amount", "Value": 1.005}, {"Name": "MpesaReceiptNumber", "Value": "X"}],
            ),
            "Body.stkCallback.CallbackMetadata.Item.Amount",
        ),
        (
            _broken(
                ["Body", "stkCallback", "CallbackMetadata", "Item"],
                [{"Name": "Amount", "Value": 5}],
            ),
            "Body.stkCallback.CallbackMetadata.Item.MpesaReceiptNumber",
        ),
        (
            _broken(
                ["Body", "stkCallback", "CallbackMetadata", "Item"],
                [
                    {"Name": "Amount", "Value": 5},
                    {"Name": "MpesaReceiptNumber", "Value": "X"},
                    {"Name": "TransactionDate", "Value": "yesterday"},
                ],
            ),
            "Body.stkCallback.CallbackMetadata.Item.TransactionDate",
        ),
    ],
)
def test_malformed_stk_callbacks_name_the_field(body, field):
    with pytest.raises(CallbackError) as raised:
        parse_stk_callback(body)
    assert raised.value.field == field


def test_c2b_confirmation():
    notice = parse_c2b(C2B_CONFIRMATION)
    assert notice.trans_id == "RKTQDM7W6S"
    assert notice.transaction_type == "Pay Bill"
    assert notice.amount_minor == 150_000
    assert notice.business_shortcode == "600638"
    assert notice.bill_ref_number == "ACC-0042"
    assert notice.org_account_balance_minor == 4_919_700
    assert notice.msisdn_raw == "254708374149"
    assert notice.phone == "+254708374149"
    assert notice.trans_time == datetime(2019, 11, 22, 3, 38, 45, tzinfo=UTC)
    assert notice.payer_name == "John Doe"


def test_c2b_masked_or_hashed_msisdn_is_kept_but_gives_no_phone():
    for msisdn in ("2547****149", "25470****149", "a" * 64):
        notice = parse_c2b({**C2B_CONFIRMATION, "MSISDN": msisdn})
        assert notice.msisdn_raw == msisdn
        assert notice.phone is None


def test_c2b_validation_body_has_an_empty_balance():
    notice = parse_c2b({**C2B_CONFIRMATION, "OrgAccountBalance": "", "TransAmount": "10"})
    assert notice.org_account_balance_minor is None
    assert notice.amount_minor == 1000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"TransAmount": "10.005"}, "TransAmount"),
        ({"TransAmount": "ten"}, "TransAmount"),
        ({"TransAmount": "-5.00"}, "TransAmount"),
        ({"TransID": None}, "TransID"),
        ({"TransTime": "2019-11-22"}, "TransTime"),
        ({"BusinessShortCode": ""}, "BusinessShortCode"),
        # What does not fit a column, a bigint or a datetime is refused before it reaches one.
        ({"TransID": "R" * 41}, "TransID"),
        ({"TransID": "RKT QDM7W6"}, "TransID"),
        ({"TransAmount": "1E+30"}, "TransAmount"),
        ({"TransTime": "00010101000000"}, "TransTime"),
        ({"BusinessShortCode": "6006381234567"}, "BusinessShortCode"),
        ({"BillRefNumber": "A" * 41}, "BillRefNumber"),
        ({"MSISDN": "f" * 65}, "MSISDN"),
        ({"FirstName": "Jo\x00hn"}, "FirstName"),
        ({"LastName": "D" * 101}, "LastName"),
    ],
)
def test_malformed_c2b_names_the_field(change, field):
    with pytest.raises(CallbackError) as raised:
        parse_c2b({**C2B_CONFIRMATION, **change})
    assert raised.value.field == field


def test_transaction_status_result():
    result = parse_transaction_status_result(STATUS_RESULT)
    assert result.succeeded
    assert result.receipt == "NLJ7RT61SV"
    assert result.amount_minor == 30_000
    assert result.status == "Completed"
    assert result.debit_party_name == "254708374149 - John Doe"
    assert result.finalised_time == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)
    assert result.parameters["TransactionReason"] is None


def test_transaction_status_failure_without_parameters():
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 2001,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": "1-2-1",
            "ConversationID": "AG_1",
            "TransactionID": "NLJ41HAY6Q",
        }
    }
    result = parse_transaction_status_result(body)
    assert result.result_code == 2001 and not result.succeeded
    assert result.receipt is None and result.parameters == {}
    with pytest.raises(CallbackError) as raised:
        parse_transaction_status_result({"Result": {"ResultDesc": "x"}})
    assert raised.value.field == "Result.ResultCode"


def test_answers_to_daraja():
    assert c2b_accept() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    assert c2b_reject() == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    assert c2b_reject("C2B00013", "Invalid amount")["ResultCode"] == "C2B00013"
    with pytest.raises(ValueError):
        c2b_reject("0")
    assert callback_ack()["ResultCode"] == 0


def test_amounts():
    assert minor_from_amount("100.00") == 10_000
    assert minor_from_amount("100") == 10_000
    assert minor_from_amount(1.1) == 110
    assert minor_from_amount(7) == 700
    for bad in ("1.001", "abc", None, True, "-1", "NaN"):
        with pytest.raises(AmountError):
            minor_from_amount(bad)
    assert shillings_from_minor(15_000) == 150
    with pytest.raises(AmountError, match="whole shillings"):
        shillings_from_minor(15_050)
    with pytest.raises(AmountError):
        shillings_from_minor(1.5)  # type: ignore[arg-type]


def test_a_hashed_msisdn_is_the_sha256_of_the_254_form():
    digest = hash_msisdn("+254708374149")
    assert digest == "bbff37cea44ac0b2d964ee0dfb8d2df8513dc7ba1b36129a929fc3fbd6dd4af4"
    notice = parse_c2b({**C2B_CONFIRMATION, "MSISDN": digest.upper()})
    assert notice.msisdn_hash == digest and notice.phone is None
    assert parse_c2b(C2B_CONFIRMATION).msisdn_hash is None


def test_stk_values_that_fit_no_column_are_refused():
    items = STK_SUCCESS["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    for name, value in (
        ("Amount", 1e30),
        ("MpesaReceiptNumber", "N" * 41),
        ("TransactionDate", "00010101000000"),
    ):
        body = copy.deepcopy(STK_SUCCESS)
        body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [
            {**item, "Value": value} if item["Name"] == name else item for item in items
        ]
        with pytest.raises(CallbackError) as raised:
            parse_stk_callback(body)
        assert raised.value.field.endswith(name)
    too_big = copy.deepcopy(STK_CANCELLED)
    too_big["Body"]["stkCallback"]["ResultCode"] = 99_999_999_999
    with pytest.raises(CallbackError):
        parse_stk_callback(too_big)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"a": "' + b"[" * 5000 + b'"}', None),  # brackets in a string are no nesting
        (b'{"a": "x\\u0000"}', "NUL"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b"[1]", "not a JSON object"),
        (b"{x", "not JSON"),
    ],
)
def test_reading_a_body(raw, reason):
    if reason is None:
        assert read_body(raw) == {"a": "[" * 5000}
        return
    with pytest.raises(CallbackError) as raised:
        read_body(raw)
    assert reason in raised.value.message
