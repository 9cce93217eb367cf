"""DarajaClient against the emulator over real HTTP: tokens, retries and refusals."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import time
from dataclasses import replace

import httpx
import pytest
from kiunga.integrations.mpesa.callbacks import daraja_timestamp
from kiunga.integrations.mpesa.client import (
    DarajaAuthError,
    DarajaClient,
    DarajaConfig,
    DarajaError,
    DarajaInvalidRequest,
    DarajaRateLimited,
    DarajaUnavailable,
    DarajaWrongCredentials,
    MpesaGateway,
)
from kiunga.integrations.mpesa.emulator import (
    DEMO_CONSUMER_KEY,
    DEMO_CONSUMER_SECRET,
    DEMO_PASSKEY,
    DEMO_SHORTCODE,
)

PAYER = "+254708374149"


def push(client: DarajaClient, receiver_url: str, **changes):
    arguments = {
        "phone": PAYER,
        "amount_minor": 10_000,
        "account_reference": "ACC-1",
        "description": "Internet",
        "callback_url": f"{receiver_url}/stk/ignored",
    }
    return client.stk_push(**{**arguments, **changes})


async def test_one_token_for_twenty_concurrent_requests(new_app, client_for, control, receiver):
    config = new_app()
    client = client_for(config)
    accepted = await asyncio.gather(*(push(client, receiver.url) for _ in range(20)))
    assert len({a.checkout_request_id for a in accepted}) == 20
    assert control.oauth_count(config.consumer_key) == 1
    assert client.token_fetches == 1
    await push(client, receiver.url)
    assert control.oauth_count(config.consumer_key) == 1  # cached


async def test_token_taken_elsewhere_is_replaced_once_for_twenty_requests(
    new_app, client_for, control, receiver, daraja
):
    config = new_app()
    client = client_for(config)
    await client.check_credentials()
    # Another process of the same app takes a token: Daraja drops the client's one.
    async with httpx.AsyncClient() as other_process:
        stolen = await other_process.get(
            f"{daraja.url}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            auth=(config.consumer_key, config.consumer_secret),
        )
    assert stolen.status_code == 200
    accepted = await asyncio.gather(*(push(client, receiver.url) for _ in range(20)))
    assert len(accepted) == 20
    assert control.oauth_count(config.consumer_key) == 3  # ours, the other's, one refresh
    refused = [
        entry
        for entry in control.requests_for("stk_push", config.shortcode)
        if entry["status"] == 404
    ]
    assert refused and all(e["response"]["errorCode"] == "404.001.03" for e in refused)


async def test_a_token_still_invalid_after_one_refresh_is_an_auth_error(
    new_app, client_for, control, receiver
):
    config = new_app()
    client = client_for(config)
    control.post("/emulator/faults", json={"kind": "invalid_token", "count": 2})
    with pytest.raises(DarajaAuthError) as raised:
        await push(client, receiver.url)
    assert raised.value.code == "404.001.03"
    assert control.oauth_count(config.consumer_key) == 2  # first token, one refresh


async def test_expired_token_is_renewed(new_app, client_for, control, receiver):
    control.post("/emulator/settings", json={"token_expires_in": 1})
    try:
        config = new_app()
        client = client_for(config)
        await push(client, receiver.url)
        await asyncio.sleep(1.1)
        await push(client, receiver.url)
    finally:
        control.post("/emulator/settings", json={"token_expires_in": 3599})
    assert control.oauth_count(config.consumer_key) == 2
    assert not [e for e in control.requests_for("stk_push", config.shortcode) if e["status"] != 200]


async def test_spike_arrest_is_retried_with_growing_pauses(new_app, client_for, control, receiver):
    config = new_app()
    client = client_for(config, backoff_seconds=0.1)
    await client.check_credentials()
    control.post("/emulator/faults", json={"kind": "spike_arrest", "count": 2})
    started = time.monotonic()
    accepted = await push(client, receiver.url)
    elapsed = time.monotonic() - started
    assert accepted.checkout_request_id
    statuses = [
        (e["status"], e["response"].get("errorCode"))
        for e in control.log(kind="stk_push", direction="in")
        if e["body"]["BusinessShortCode"] == config.shortcode
    ]
    assert statuses == [(500, "500.003.02"), (500, "500.003.02"), (200, None)]
    assert elapsed >= 0.1 + 0.2


async def test_spike_arrest_that_lasts_is_raised(new_app, client_for, control, receiver):
    client = client_for(new_app(), rate_limit_retries=2, backoff_seconds=0.01)
    await client.check_credentials()
    control.post("/emulator/faults", json={"kind": "spike_arrest", "count": 10})
    with pytest.raises(DarajaRateLimited) as raised:
        await push(client, receiver.url)
    assert raised.value.code == "500.003.02"
    faults = control.post("/emulator/faults", json={"kind": "spike_arrest", "count": 0}).json()
    assert faults[0]["remaining"] == 7  # three attempts, no more


@pytest.mark.parametrize("kind", ["server_error", "unavailable"])
async def test_server_errors_are_unavailable_and_not_retried(
    kind, new_app, client_for, control, receiver
):
    config = new_app()
    client = client_for(config)
    await client.check_credentials()
    control.post("/emulator/faults", json={"kind": kind, "count": 1})
    with pytest.raises(DarajaUnavailable):
        await push(client, receiver.url)
    assert len(control.requests_for("stk_push", config.shortcode)) == 1


async def test_unreachable_daraja_is_unavailable(client_for):
    with socket.socket() as sock:  # a port nothing listens on once this is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = DarajaConfig(
        base_url=f"http://127.0.0.1:{port}",
        consumer_key="k",
        consumer_secret="s",
        shortcode="174379",
        passkey="p",
    )
    with pytest.raises(DarajaUnavailable) as raised:
        await client_for(config).check_credentials()
    assert raised.value.code == "connection"


async def test_check_credentials(new_app, client_for, daraja):
    config = new_app()
    await client_for(config).check_credentials()
    wrong = replace(config, consumer_secret="not-the-secret")
    with pytest.raises(DarajaAuthError) as raised:
        await client_for(wrong).check_credentials()
    assert raised.value.code == "400.008.01"


async def test_demo_app_works_out_of_the_box(daraja, client_for, receiver):
    config = DarajaConfig(
        base_url=daraja.url,
        consumer_key=DEMO_CONSUMER_KEY,
        consumer_secret=DEMO_CONSUMER_SECRET,
        shortcode=DEMO_SHORTCODE,
        passkey=DEMO_PASSKEY,
    )
    accepted = await push(client_for(config), receiver.url)
    assert accepted.checkout_request_id.startswith("ws_CO_")


async def test_wrong_passkey_is_refused_by_the_password_check(new_app, client_for, receiver):
    config = new_app()
    wrong = replace(config, passkey="f" * 64)
    with pytest.raises(DarajaWrongCredentials) as raised:
        await push(client_for(wrong), receiver.url)
    assert (raised.value.code, raised.value.message) == ("500.001.1001", "Wrong credentials")


def password(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def raw_stk_push(new_app, daraja, receiver):
    """Send an STK push body as given, over plain HTTP: what the emulator itself checks."""
    config = new_app()
    token = httpx.get(
        f"{daraja.url}/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(config.consumer_key, config.consumer_secret),
    ).json()["access_token"]
    timestamp = daraja_timestamp()
    valid = {
        "BusinessShortCode": int(config.shortcode),
        "Password": password(config.shortcode + config.passkey + timestamp),
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 1,
        "PartyA": 254708374149,
        "PartyB": int(config.shortcode),
        "PhoneNumber": 254708374149,
        "CallBackURL": f"{receiver.url}/stk/raw",
        "AccountReference": "ACC",
        "TransactionDesc": "Pay",
    }

    def send(token: str | None = token, **changes) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(
            f"{daraja.url}/mpesa/stkpush/v1/processrequest",
            json={**valid, **changes},
            headers=headers,
        )

    send.config = config
    send.timestamp = timestamp
    return send


def test_emulator_checks_the_password_against_shortcode_passkey_and_timestamp(raw_stk_push):
    config, timestamp = raw_stk_push.config, raw_stk_push.timestamp
    good = raw_stk_push()
    assert good.status_code == 200 and good.json()["ResponseCode"] == "0"
    other_time = password(config.shortcode + config.passkey + "20240101120000")
    assert raw_stk_push(Password=other_time).status_code == 500
    wrong = raw_stk_push(Password=password(config.shortcode + "x" + timestamp))
    assert wrong.status_code == 500
    assert set(wrong.json()) == {"requestId", "errorCode", "errorMessage"}
    assert (wrong.json()["errorCode"], wrong.json()["errorMessage"]) == (
        "500.001.1001",
        "Wrong credentials",
    )
    bad_stamp = raw_stk_push(
        Password=password(config.shortcode + config.passkey + "2024"), Timestamp="2024"
    )
    assert bad_stamp.json()["errorMessage"] == "Bad Request - Invalid Timestamp"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"AccountReference": "ACCOUNT-00042"}, "AccountReference"),
        ({"AccountReference": ""}, "AccountReference"),
        ({"TransactionDesc": "Internet bundle"}, "TransactionDesc"),
        ({"Amount": 1.5}, "Amount"),
        ({"Amount": 0}, "Amount"),
        ({"Amount": "ten"}, "Amount"),
        ({"PhoneNumber": "0708374149"}, "PhoneNumber"),
        ({"PartyA": 2547083741}, "PartyA"),
        ({"PartyB": 1}, "PartyB"),
        ({"TransactionType": "CustomerBuyGoodsOnline"}, "TransactionType"),
        ({"CallBackURL": "not a url"}, "CallBackURL"),
        ({"BusinessShortCode": 174379}, "BusinessShortCode"),
    ],
)
def test_emulator_refuses_what_daraja_refuses(raw_stk_push, changes, field):
    refused = raw_stk_push(**changes)
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "400.002.02"
    assert refused.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_emulator_token_errors_have_darajas_shape(raw_stk_push):
    missing = raw_stk_push(token=None)
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "404.001.04")
    invalid = raw_stk_push(token="not-a-token")
    assert invalid.status_code == 404
    assert set(invalid.json()) == {"requestId", "errorCode", "errorMessage"}
    assert invalid.json()["errorCode"] == "404.001.03"
    assert invalid.json()["errorMessage"] == "Invalid Access Token"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"account_reference": "ACCOUNT-00042"}, "AccountReference"),  # 13 > 12
        ({"account_reference": ""}, "AccountReference"),
        ({"description": "Internet bundle"}, "TransactionDesc"),  # 15 > 13
        ({"amount_minor": 10_050}, "Amount"),
        ({"amount_minor": 0}, "Amount"),
        ({"phone": "+255712345678"}, "PhoneNumber"),
        ({"phone": "0712"}, "PhoneNumber"),
        ({"callback_url": "ftp://example.com/cb"}, "CallBackURL"),
    ],
)
async def test_bad_stk_requests_are_refused_before_sending(
    changes, field, new_app, client_for, control, receiver
):
    config = new_app()
    client = client_for(config)
    with pytest.raises(DarajaInvalidRequest) as raised:
        await push(client, receiver.url, **changes)
    assert raised.value.field == field
    assert field in str(raised.value)
    assert control.oauth_count(config.consumer_key) == 0  # nothing was sent at all
    assert control.requests_for("stk_push", config.shortcode) == []


async def test_daraja_invalid_request_names_the_field(new_app, client_for, receiver, daraja):
    config = new_app()  # a paybill at the emulator…
    as_till = replace(config, shortcode_type="till", till_number="9")
    with pytest.raises(DarajaInvalidRequest) as raised:  # …asked to take Buy Goods
        await push(client_for(as_till), receiver.url)
    assert raised.value.code == "400.002.02"
    assert raised.value.field == "TransactionType"


async def test_phone_forms_are_sent_as_2547(new_app, client_for, control, receiver):
    config = new_app()
    client = client_for(config)
    for phone in ("+254 708 374 149", "0708374149", "254708374149", "708374149"):
        await push(client, receiver.url, phone=phone)
    sent = control.requests_for("stk_push", config.shortcode)
    assert {(e["body"]["PartyA"], e["body"]["PhoneNumber"]) for e in sent} == {
        ("254708374149", "254708374149")
    }
    assert {e["body"]["Amount"] for e in sent} == {100}


async def test_no_secret_reaches_the_logs(new_app, client_for, control, receiver, caplog):
    config = new_app()
    client = client_for(config)
    caplog.set_level(logging.DEBUG)
    await client.check_credentials()
    control.post("/emulator/faults", json={"kind": "spike_arrest", "count": 1})
    control.post("/emulator/faults", json={"kind": "invalid_token", "count": 1})
    await push(client, receiver.url)
    with pytest.raises(DarajaError):
        await client.stk_query("ws_CO_unknown")
    token = client._token
    text = caplog.text + repr(config) + repr(client)
    assert "spike arrest" in caplog.text
    for secret in (config.consumer_secret, config.passkey, config.security_credential, token):
        assert secret and secret not in text


def test_the_client_has_the_gateway_shape(new_app):
    assert isinstance(DarajaClient(new_app()), MpesaGateway)


def test_one_client_serves_successive_event_loops(new_app, control, receiver):
    config = new_app()
    client = DarajaClient(config)

    async def push_then_close_this_loops_connections():
        try:
            return await push(client, receiver.url)
        finally:
            await client.aclose()

    first = asyncio.run(push_then_close_this_loops_connections())
    second = asyncio.run(push_then_close_this_loops_connections())
    assert first.checkout_request_id != second.checkout_request_id
    assert control.oauth_count(config.consumer_key) == 1  # the token outlives the loop
