"""/api/v1/mpesa: settings with write-only secrets, test connection, token rotation (which
registers the C2B URLs again), STK push, requests, the unmatched queue; scopes, resellers,
and one ISP's key never reaching another's data."""

from __future__ import annotations

import json
from datetime import timedelta

from kiunga.integrations.mpesa.client import StkQueryResult
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
from kiunga.platform.db.base import utcnow
from kiunga.tenants.billing import ledger
from kiunga.tenants.mpesa import stk
from kiunga.tenants.mpesa.api import GATEWAY_FACTORY_KEY
from kiunga.tenants.mpesa.intake import handle_callback
from kiunga.tenants.mpesa.models import (
    CallbackKind,
    MpesaCallback,
    MpesaRequest,
    MpesaSettings,
    RequestStatus,
)
from sqlalchemy import select

from .conftest import STAFF, c2b_body, stk_body
from .fakes import FakeDaraja

MONEY = ("billing:read", "billing:write")
SETTINGS = ("mpesa:settings",)


def _auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def test_settings_secrets_are_write_only_and_encrypted(
    make_isp, make_key, client_for, session_for, app
):
    isp = await make_isp()
    fake = FakeDaraja()
    app.state[GATEWAY_FACTORY_KEY] = fake
    client = client_for(isp.host)
    headers = _auth(make_key(isp.id, scopes=SETTINGS))
    changed = await client.put(
        "/api/v1/mpesa/settings",
        json={"passkey": "new-passkey", "environment": "production", "shortcode": "123456"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["passkey_set"] and body["consumer_secret_set"]
    assert "new-passkey" not in changed.text and "passkey" not in body
    assert body["callback_urls"]["confirmation"].endswith(f"/{isp.token}/c2b/confirmation")
    async with session_for(isp) as session:
        row = await session.get(MpesaSettings, 1)
        assert "new-passkey" not in row.passkey_encrypted
    bad = await client.put("/api/v1/mpesa/settings", json={"shortcode": "12ab"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "shortcode"
    bad = await client.put(
        "/api/v1/mpesa/settings", json={"allowed_sources": ["nope"]}, headers=headers
    )
    assert bad.json()["errors"][0]["field"] == "allowed_sources"

    check = await client.post("/api/v1/mpesa/settings/test-connection", headers=headers)
    assert check.json()["ok"] is True
    assert fake.credentials.passkey == "new-passkey"
    fake.credentials_ok = False
    check = await client.post("/api/v1/mpesa/settings/test-connection", headers=headers)
    assert check.json()["ok"] is False

    # Money scopes do not open the settings; settings scopes do not move money.
    money = _auth(make_key(isp.id, scopes=MONEY))
    assert (await client.get("/api/v1/mpesa/settings", headers=money)).status_code == 403
    push = await client.post("/api/v1/mpesa/stk-push", json={"amount": 100}, headers=headers)
    assert push.status_code == 403


async def test_rotating_the_token_kills_the_old_urls_and_registers_the_new_ones(
    make_isp, make_key, client_for, app, add_subscriber
):
    isp = await make_isp()
    fake = FakeDaraja()
    app.state[GATEWAY_FACTORY_KEY] = fake
    subscriber = await add_subscriber(isp)
    old_hook = isp.hook("c2b/confirmation")
    body = c2b_body("RKR1", "100", subscriber.account_number)
    assert (await client_for("x").post(old_hook, json=body)).status_code == 200
    client = client_for(isp.host)
    rotated = await client.post(
        "/api/v1/mpesa/settings/rotate-callback-token",
        headers=_auth(make_key(isp.id, scopes=SETTINGS)),
    )
    assert rotated.status_code == 200 and rotated.json()["ok"], rotated.text
    urls = rotated.json()["callback_urls"]
    assert isp.token not in urls["confirmation"]
    assert fake.registrations == [
        {
            "validation_url": urls["validation"],
            "confirmation_url": urls["confirmation"],
            "response_type": "Completed",
        }
    ]
    assert (await client_for("x").post(old_hook, json=body)).status_code == 404
    new_path = urls["confirmation"].split("://", 1)[1].split("/", 1)[1]
    again = await client_for("x").post("/" + new_path, json={**body, "TransID": "RKR2"})
    assert again.status_code == 200


async def test_stk_push_request_callback_and_isolation(
    make_isp, make_key, client_for, app, add_subscriber, session_for, check_invariants
):
    a, b = await make_isp("mpx"), await make_isp("mpy")
    fake = FakeDaraja()
    app.state[GATEWAY_FACTORY_KEY] = fake
    subscriber = await add_subscriber(a, phone="+254712345678")
    other = await add_subscriber(b)
    client = client_for(a.host)
    money = _auth(make_key(a.id, scopes=MONEY))

    bad = await client.post(
        "/api/v1/mpesa/stk-push",
        json={"subscriber_id": subscriber.id, "amount": 150},
        headers=money,
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "amount"
    bad = await client.post(
        "/api/v1/mpesa/stk-push",
        json={"subscriber_id": subscriber.id, "amount": 100, "phone": "12"},
        headers=money,
    )
    assert bad.json()["errors"][0]["field"] == "phone"
    # Another ISP's subscriber id is nobody here.
    missing = await client.post(
        "/api/v1/mpesa/stk-push", json={"subscriber_id": other.id + 10_000, "amount": 100},
        headers=money,
    )  # fmt: skip
    assert missing.status_code == 404

    created = await client.post(
        "/api/v1/mpesa/stk-push",
        json={"account_number": subscriber.account_number.lower(), "amount": 50_000},
        headers=money,
    )
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["status"] == "pending" and request["phone"] == "+254712345678"
    assert fake.pushes[-1]["amount_minor"] == 50_000
    assert fake.pushes[-1]["account_reference"] == subscriber.account_number
    assert fake.pushes[-1]["callback_url"].endswith(f"/hooks/daraja/{a.token}/stk")

    # B's token naming A's CheckoutRequestID credits nothing anywhere.
    crossed = stk_body(request["checkout_request_id"], amount=500, receipt="RKX1")
    assert (await client_for("x").post(b.hook("stk"), json=crossed)).status_code == 200
    got = await client.get(f"/api/v1/mpesa/requests/{request['id']}", headers=money)
    assert got.json()["status"] == "pending"

    await client_for("x").post(a.hook("stk"), json=crossed)
    got = await client.get(f"/api/v1/mpesa/requests/{request['id']}", headers=money)
    assert got.json()["status"] == "paid" and got.json()["receipt"] == "RKX1"
    listed = await client.get("/api/v1/mpesa/requests?status=paid", headers=money)
    assert [r["id"] for r in listed.json()["items"]] == [request["id"]]
    assert (await client.get("/api/v1/mpesa/requests?status=x", headers=money)).status_code == 400

    # B's key sees none of A's requests.
    b_key = _auth(make_key(b.id, scopes=MONEY))
    b_client = client_for(b.host)
    assert (
        await b_client.get(f"/api/v1/mpesa/requests/{request['id']}", headers=b_key)
    ).status_code == 404
    assert (await b_client.get("/api/v1/mpesa/requests", headers=b_key)).json()["total"] == 0
    await check_invariants(a)


async def test_unmatched_queue_over_the_api_and_resellers_refused(
    make_isp, make_key, client_for, add_subscriber, engine, settings, session_for
):
    isp = await make_isp()
    subscriber = await add_subscriber(isp)
    await client_for("x").post(
        isp.hook("c2b/confirmation"), json=c2b_body("RKU1", "300", "nobody", "2547****149")
    )
    client = client_for(isp.host)
    money = _auth(make_key(isp.id, scopes=MONEY))
    waiting = (await client.get("/api/v1/mpesa/unmatched", headers=money)).json()
    assert waiting["total"] == 1 and waiting["items"][0]["msisdn"] == "2547****149"
    item = waiting["items"][0]["id"]
    wrong = await client.post(
        f"/api/v1/mpesa/unmatched/{item}/assign", json={"account_number": "NOPE1"}, headers=money
    )
    assert wrong.status_code == 404 and wrong.json()["errors"][0]["field"] == "account_number"
    done = await client.post(
        f"/api/v1/mpesa/unmatched/{item}/assign",
        json={"account_number": subscriber.account_number},
        headers=money,
    )
    assert done.status_code == 200 and done.json()["status"] == "credited", done.text
    twice = await client.post(
        f"/api/v1/mpesa/unmatched/{item}/assign",
        json={"account_number": subscriber.account_number},
        headers=money,
    )
    assert twice.status_code == 409
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 30_000

    reseller = create_api_key_sync(
        engine,
        KeyRequest(scopes=MONEY, tenant_id=isp.id, reseller_id=1),
        secret_key=settings.secret_key,
    ).token
    refused = await client.get("/api/v1/mpesa/unmatched", headers=_auth(reseller))
    assert refused.status_code == 403


async def test_settle_job_credits_paid_requests_once_and_expires_silent_ones(
    isp, add_subscriber, add_expired_service, database, session_for, check_invariants
):
    subscriber = await add_subscriber(isp, phone="+254712345678")
    await add_expired_service(isp, subscriber.id, price=100_000)
    fake = FakeDaraja()
    ask = stk.PaymentAsk(phone=None, amount=100_000, subscriber_id=subscriber.id)
    paid = await stk.request_payment(database, isp.schema, ask, actor=STAFF, gateway_factory=fake)
    cancelled = await stk.request_payment(
        database, isp.schema, ask, actor=STAFF, gateway_factory=fake
    )
    silent = await stk.request_payment(database, isp.schema, ask, actor=STAFF, gateway_factory=fake)
    fake.queries[paid.checkout_request_id] = StkQueryResult(0, "processed successfully", False)
    fake.queries[cancelled.checkout_request_id] = StkQueryResult(1032, "cancelled", False)

    # Too early: nothing is asked yet.
    report = await stk.settle_pending(database, isp.schema, gateway_factory=fake)
    assert report == {"paid": 0, "failed": 0, "expired": 0, "pending": 0}
    later = utcnow() + timedelta(minutes=2)
    report = await stk.settle_pending(database, isp.schema, now=later, gateway_factory=fake)
    assert report == {"paid": 1, "failed": 1, "expired": 0, "pending": 1}
    report = await stk.settle_pending(
        database, isp.schema, now=utcnow() + timedelta(hours=1), gateway_factory=fake
    )
    assert report == {"paid": 0, "failed": 0, "expired": 1, "pending": 0}

    # The late callback of the paid one adds its receipt and credits nothing more.
    body = json.dumps(stk_body(paid.checkout_request_id, amount=1000, receipt="RKQ1")).encode()
    handled = await handle_callback(database, isp.schema, CallbackKind.STK, body, "127.0.0.1")
    assert handled.outcome.value == "duplicate"
    async with session_for(isp) as session:
        statuses = {
            r.id: (r.status, r.receipt)
            for r in [await session.get(MpesaRequest, x.id) for x in (paid, cancelled, silent)]
        }
        assert statuses == {
            paid.id: (RequestStatus.PAID, "RKQ1"),
            cancelled.id: (RequestStatus.FAILED, None),
            silent.id: (RequestStatus.EXPIRED, None),
        }
        assert await ledger.balance(session, subscriber.id) == 0  # paid and renewed
    await check_invariants(isp)


async def test_the_settle_job_is_registered_for_every_tenant_each_minute(isp, database):
    from types import SimpleNamespace

    from kiunga.platform.areas import assemble

    registry = assemble().job_registry()  # the worker's
    from kiunga.tenants.mpesa.jobs import mpesa_settle_pending

    assert registry.periodics["mpesa.settle_pending"] is mpesa_settle_pending
    ctx = SimpleNamespace(database=database, tenant=SimpleNamespace(schema=isp.schema))
    report = await mpesa_settle_pending.fn(ctx, isp.slug, None)
    assert report == {"paid": 0, "failed": 0, "expired": 0, "pending": 0, "reprocessed": 0}


async def test_a_late_receipt_already_credited_by_c2b_is_flagged_not_an_error(
    isp, add_subscriber, database, session_for, client_for
):
    subscriber = await add_subscriber(isp, phone="+254712345678")
    fake = FakeDaraja()
    ask = stk.PaymentAsk(phone=None, amount=10_000, subscriber_id=subscriber.id)
    request = await stk.request_payment(
        database, isp.schema, ask, actor=STAFF, gateway_factory=fake
    )
    fake.queries[request.checkout_request_id] = StkQueryResult(0, "ok", False)
    later = utcnow() + timedelta(minutes=2)
    await stk.settle_pending(database, isp.schema, now=later, gateway_factory=fake)
    confirmation = c2b_body("RKZ1", "100", subscriber.account_number)
    await client_for("x").post(isp.hook("c2b/confirmation"), json=confirmation)
    late = stk_body(request.checkout_request_id, amount=100, receipt="RKZ1")
    answer = await client_for("x").post(isp.hook("stk"), json=late)
    assert answer.status_code == 200
    async with session_for(isp) as session:
        flagged = await session.scalar(
            select(MpesaCallback.flag).where(MpesaCallback.flag.is_not(None))
        )
    assert flagged == "receipt_credited_twice"


async def test_a_callback_faster_than_the_push_answer_still_pays_its_request(
    isp, add_subscriber, database, session_for
):
    subscriber = await add_subscriber(isp, phone="+254712345678")

    class HastyDaraja(FakeDaraja):
        async def stk_push(self, **kwargs):
            accepted = await super().stk_push(**kwargs)
            # The callback arrives before the push's answer reaches Kiunga.
            body = stk_body(accepted.checkout_request_id, amount=100, receipt="RKH1")
            raw = json.dumps(body).encode()
            handled = await handle_callback(database, isp.schema, CallbackKind.STK, raw, None)
            assert handled.flag == "unknown_checkout_request"
            return accepted

    ask = stk.PaymentAsk(phone=None, amount=10_000, subscriber_id=subscriber.id)
    request = await stk.request_payment(
        database, isp.schema, ask, actor=STAFF, gateway_factory=HastyDaraja()
    )
    assert (request.status, request.receipt) == (RequestStatus.PAID, "RKH1")
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 10_000
        callback = await session.scalar(select(MpesaCallback))
        assert (callback.outcome.value, callback.flag) == ("credited", None)
