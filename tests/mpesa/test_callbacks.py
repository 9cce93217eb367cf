"""Daraja's callbacks over HTTP (ASGI): routing by secret token, C2B validation and
confirmation, STK callbacks, exactly-once, flags, the unmatched queue, payment.received."""

from __future__ import annotations

import asyncio

from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa.config import SettingsChange, update_settings
from kiunga.tenants.mpesa.models import (
    CallbackOutcome,
    MpesaCallback,
    MpesaRequest,
    MpesaTransaction,
    RequestStatus,
    TransactionStatus,
)
from kiunga.tenants.mpesa.queue import assign_unmatched, list_flagged, list_unmatched
from kiunga.tenants.services.models import Service, ServiceStatus
from sqlalchemy import func, select

from .conftest import STAFF, c2b_body, stk_body


async def _count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


async def _post(client_for, path, body, host="anything.example", **kwargs):
    client = client_for(host)
    if isinstance(body, (bytes, str)):
        return await client.post(path, content=body, **kwargs)
    return await client.post(path, json=body, **kwargs)


async def test_an_unknown_token_is_404_and_stores_nothing(isp, client_for, session_for):
    for path in ("/hooks/daraja/not-a-token/c2b/confirmation", "/hooks/daraja/x/stk"):
        response = await _post(client_for, path, c2b_body("QX1"))
        assert response.status_code == 404
    async with session_for(isp) as session:
        assert await _count(session, MpesaCallback) == 0


async def test_validation_accepts_known_accounts_and_rejects_unknown_ones(
    isp, add_subscriber, client_for
):
    await add_subscriber(isp, account="AB123")
    hook = isp.hook("c2b/validation")
    # Case and spaces ignored; the host does not matter, the token does.
    ok = await _post(client_for, hook, c2b_body("QV1", bill_ref=" ab 123 "))
    assert ok.status_code == 200
    assert ok.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    no = await _post(client_for, hook, c2b_body("QV2", bill_ref="NOPE9", msisdn="2547****149"))
    assert no.status_code == 200
    assert no.json()["ResultCode"] == "C2B00012"
    other_shortcode = await _post(client_for, hook, c2b_body("QV3", "10", "AB123", shortcode="1"))
    assert other_shortcode.json()["ResultCode"] == "C2B00015"


async def test_confirmation_credits_restores_and_tells_payment_received(
    isp, add_subscriber, add_expired_service, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp, account="HOME42")
    service_id = await add_expired_service(isp, subscriber.id, price=100_000)
    response = await _post(
        client_for, isp.hook("c2b/confirmation"), c2b_body("RKL1", "1000.00", "home42")
    )
    assert response.status_code == 200
    assert response.json()["ResultCode"] == "0"

    async with session_for(isp) as session:
        service = await session.get(Service, service_id)
        assert service.status is ServiceStatus.ACTIVE
        payment = await session.scalar(select(Payment).where(Payment.reference == "RKL1"))
        assert (payment.subscriber_id, payment.amount, payment.method) == (
            subscriber.id,
            100_000,
            "mpesa",
        )
        balance = await ledger.balance(session, subscriber.id)
        event = await session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.topic == "payment.received",
                OutboxEvent.payload["reference"].astext == "RKL1",
            )
        )
        callback = await session.scalar(select(MpesaCallback))
    assert event.payload["amount"] == 100_000
    assert event.payload["reference"] == "RKL1"
    assert event.payload["receipt_number"] == payment.receipt_number
    assert event.payload["balance"] == balance == 0
    assert event.payload["expires_at"] == service.expires_at.isoformat()
    assert callback.outcome is CallbackOutcome.CREDITED
    assert callback.body["TransID"] == "RKL1" and '"TransID"' in callback.raw_body
    await check_invariants(isp)


async def test_a_repeated_confirmation_is_success_and_changes_nothing(
    isp, add_subscriber, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    body = c2b_body("RKL2", "500", subscriber.account_number)
    answers = [await _post(client_for, isp.hook("c2b/confirmation"), body) for _ in range(3)]
    assert all(a.status_code == 200 and a.json()["ResultCode"] == "0" for a in answers)
    changed = await _post(client_for, isp.hook("c2b/confirmation"), {**body, "TransAmount": "5000"})
    assert changed.status_code == 200 and changed.json()["ResultCode"] == "0"
    async with session_for(isp) as session:
        assert await _count(session, Payment) == 1
        assert await ledger.balance(session, subscriber.id) == 50_000
        outcomes = list(await session.scalars(select(MpesaCallback.outcome).order_by("id")))
        flagged, _ = await list_flagged(session)
    assert outcomes == [
        CallbackOutcome.CREDITED,
        CallbackOutcome.DUPLICATE,
        CallbackOutcome.DUPLICATE,
        CallbackOutcome.FLAGGED,
    ]
    assert [f.flag for f in flagged] == ["changed_replay"]
    await check_invariants(isp)


async def test_concurrent_deliveries_of_one_receipt_credit_once(
    isp, add_subscriber, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    body = c2b_body("RKL3", "700", subscriber.account_number)
    answers = await asyncio.gather(
        *(_post(client_for, isp.hook("c2b/confirmation"), body) for _ in range(10))
    )
    assert {a.status_code for a in answers} == {200}
    async with session_for(isp) as session:
        assert await _count(session, Payment) == 1
        assert await _count(session, MpesaTransaction) == 1
        assert await ledger.balance(session, subscriber.id) == 70_000
    await check_invariants(isp)


async def test_phone_matches_when_the_account_does_not(
    isp, add_subscriber, client_for, session_for
):
    subscriber = await add_subscriber(isp, phone="+254712000111")
    body = c2b_body("RKL4", "100", "wrong ref", msisdn="254712000111")
    await _post(client_for, isp.hook("c2b/confirmation"), body)
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 10_000


async def test_unmatched_waits_for_staff_who_assign_it(
    isp, add_subscriber, add_expired_service, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    service_id = await add_expired_service(isp, subscriber.id, price=100_000)
    body = c2b_body("RKL5", "1000", "typo", msisdn="2547****149")
    response = await _post(client_for, isp.hook("c2b/confirmation"), body)
    assert response.json()["ResultCode"] == "0"
    async with session_for(isp) as session:
        waiting, total = await list_unmatched(session)
        assert total == 1 and waiting[0].msisdn == "2547****149" and waiting[0].phone is None
        assert await _count(session, Payment, Payment.method == "mpesa") == 0
    async with session_for(isp) as session:
        await assign_unmatched(session, waiting[0].id, subscriber.account_number, actor=STAFF)
    async with session_for(isp) as session:
        transaction = await session.get(MpesaTransaction, waiting[0].id)
        assert transaction.status is TransactionStatus.CREDITED
        assert transaction.assigned_by == STAFF.label
        assert (await session.get(Service, service_id)).status is ServiceStatus.ACTIVE
        assert (await list_unmatched(session))[1] == 0
    # The same callback again after assignment: still one payment.
    await _post(client_for, isp.hook("c2b/confirmation"), body)
    async with session_for(isp) as session:
        assert await _count(session, Payment, Payment.method == "mpesa") == 1
    await check_invariants(isp)


async def test_bad_input_is_recorded_flagged_and_answered(
    isp, add_subscriber, client_for, session_for
):
    subscriber = await add_subscriber(isp)
    malformed = await _post(client_for, isp.hook("c2b/confirmation"), b"{not json")
    assert malformed.status_code == 200 and malformed.json()["ResultCode"] == "0"
    shapeless = await _post(client_for, isp.hook("stk"), {"Body": {}})
    assert shapeless.status_code == 200 and shapeless.json()["ResultCode"] == 0
    foreign = c2b_body("RKL6", "100", subscriber.account_number, shortcode="999999")
    assert (await _post(client_for, isp.hook("c2b/confirmation"), foreign)).status_code == 200
    async with session_for(isp) as session:
        flagged, _ = await list_flagged(session)
        assert await _count(session, Payment) == 0
    assert sorted(f.flag for f in flagged) == ["malformed", "malformed", "unknown_shortcode"]
    assert any(f.raw_body == "{not json" and f.body is None for f in flagged)


async def _stk_request(session_for, isp, subscriber, checkout, amount=100_000) -> int:
    async with session_for(isp) as session:
        request = MpesaRequest(
            subscriber_id=subscriber.id,
            account_reference=subscriber.account_number,
            phone="+254708374149",
            amount=amount,
            checkout_request_id=checkout,
            merchant_request_id="m-1",
            requested_by="test",
        )
        session.add(request)
        await session.flush()
        return request.id


async def test_stk_callback_pays_the_request_it_names(
    isp, add_subscriber, add_expired_service, client_for, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    service_id = await add_expired_service(isp, subscriber.id, price=100_000)
    request_id = await _stk_request(session_for, isp, subscriber, "ws_CO_1")
    body = stk_body("ws_CO_1", amount=1000, receipt="RKS1")
    for _ in range(2):
        response = await _post(client_for, isp.hook("stk"), body)
        assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    async with session_for(isp) as session:
        request = await session.get(MpesaRequest, request_id)
        assert (request.status, request.receipt) == (RequestStatus.PAID, "RKS1")
        payment = await session.get(Payment, request.payment_id)
        assert (payment.reference, payment.amount, payment.payer_phone) == (
            "RKS1",
            100_000,
            "+254708374149",
        )
        assert (await session.get(Service, service_id)).status is ServiceStatus.ACTIVE
        assert await _count(session, Payment, Payment.method == "mpesa") == 1
    await check_invariants(isp)


async def test_a_paid_request_whose_payer_nobody_names_is_held_for_staff(
    isp, add_subscriber, client_for, session_for, check_invariants
):
    """A request sent for a payer to be named when paid (the portal's first-time buyer)
    that no area claims: the money is held as `no_payer`, never credited to a guess, and
    staff who assign it name the request's payer too."""
    subscriber = await add_subscriber(isp)
    async with session_for(isp) as session:
        request = MpesaRequest(
            subscriber_id=None,
            account_reference="PAY1",
            phone="+254708374149",
            amount=50_000,
            checkout_request_id="ws_CO_NP",
            merchant_request_id="m-np",
            requested_by="test",
        )
        session.add(request)
        await session.flush()
        request_id = request.id
    await _post(client_for, isp.hook("stk"), stk_body("ws_CO_NP", amount=500, receipt="RKNP1"))
    async with session_for(isp) as session:
        request = await session.get(MpesaRequest, request_id)
        assert request.status is RequestStatus.REVIEW and request.subscriber_id is None
        waiting, total = await list_unmatched(session)
        assert total == 1 and waiting[0].flag == "no_payer" and waiting[0].amount == 50_000
        assert await _count(session, Payment) == 0
    async with session_for(isp) as session:
        await assign_unmatched(session, waiting[0].id, subscriber.account_number, actor=STAFF)
    async with session_for(isp) as session:
        request = await session.get(MpesaRequest, request_id)
        assert request.status is RequestStatus.PAID and request.subscriber_id == subscriber.id
        payment = await session.get(Payment, request.payment_id)
        assert (payment.subscriber_id, payment.amount) == (subscriber.id, 50_000)
    await check_invariants(isp)


async def test_stk_failure_amount_mismatch_and_another_isps_request(
    make_isp, add_subscriber, client_for, session_for, check_invariants
):
    a, b = await make_isp("mpa"), await make_isp("mpb")
    sub_a, sub_b = await add_subscriber(a), await add_subscriber(b)
    cancelled = await _stk_request(session_for, a, sub_a, "ws_CO_A1")
    short = await _stk_request(session_for, a, sub_a, "ws_CO_A2")
    theirs = await _stk_request(session_for, b, sub_b, "ws_CO_B1")

    await _post(client_for, a.hook("stk"), stk_body("ws_CO_A1", result_code=1032))
    await _post(client_for, a.hook("stk"), stk_body("ws_CO_A2", amount=10, receipt="RKS2"))
    # A's token naming B's CheckoutRequestID: recorded and flagged at A, nothing at B.
    crossed = await _post(client_for, a.hook("stk"), stk_body("ws_CO_B1", receipt="RKS3"))
    assert crossed.status_code == 200

    async with session_for(a) as session:
        assert (await session.get(MpesaRequest, cancelled)).status is RequestStatus.FAILED
        assert (await session.get(MpesaRequest, short)).status is RequestStatus.REVIEW
        waiting, _ = await list_unmatched(session)
        assert [(w.flag, w.amount) for w in waiting] == [("amount_mismatch", 1_000)]
        flags = sorted(f.flag for f in (await list_flagged(session))[0])
        assert flags == ["amount_mismatch", "unknown_checkout_request"]
        assert await _count(session, Payment) == 0
    async with session_for(b) as session:
        assert (await session.get(MpesaRequest, theirs)).status is RequestStatus.PENDING
        assert await _count(session, MpesaCallback) == 0
        assert await _count(session, Payment) == 0
    await check_invariants(a)
    await check_invariants(b)


async def test_one_isps_receipt_never_blocks_or_credits_another(
    make_isp, add_subscriber, client_for, session_for
):
    a, b = await make_isp("mpc"), await make_isp("mpd")
    sub_a, sub_b = (
        await add_subscriber(a, account="SAME1"),
        await add_subscriber(b, account="SAME1"),
    )
    body = c2b_body("RKL7", "100", "SAME1")
    await _post(client_for, a.hook("c2b/confirmation"), body)
    await _post(client_for, b.hook("c2b/confirmation"), body)
    for isp, subscriber in ((a, sub_a), (b, sub_b)):
        async with session_for(isp) as session:
            assert await ledger.balance(session, subscriber.id) == 10_000


async def test_the_source_allowlist_refuses_other_addresses(
    isp, add_subscriber, client_for, session_for
):
    async with session_for(isp) as session:
        await update_settings(session, SettingsChange(allowed_sources=["196.201.214.0/24"]))
    # Another process's cache would catch up within the TTL; this test uses a fresh app.
    subscriber = await add_subscriber(isp)
    body = c2b_body("RKL8", "100", subscriber.account_number)
    client = client_for("x.example", client_ip="10.1.2.3")
    assert (await client.post(isp.hook("c2b/confirmation"), json=body)).status_code == 403
    allowed = client_for("x.example", client_ip="196.201.214.200")
    assert (await allowed.post(isp.hook("c2b/confirmation"), json=body)).status_code == 200
    async with session_for(isp) as session:
        assert await _count(session, MpesaCallback) == 1


async def test_a_callback_stored_but_never_processed_is_processed_by_the_job(
    isp, add_subscriber, database, session_for, check_invariants
):
    import json
    from datetime import timedelta

    from kiunga.tenants.mpesa.intake import reprocess_stored, store_callback
    from kiunga.tenants.mpesa.models import CallbackKind

    subscriber = await add_subscriber(isp)
    raw = json.dumps(c2b_body("RKP1", "250", subscriber.account_number)).encode()
    # The process died between storing the callback and processing it.
    await store_callback(database, isp.schema, CallbackKind.C2B_CONFIRMATION, raw, "1.2.3.4")
    await store_callback(database, isp.schema, CallbackKind.C2B_CONFIRMATION, b"{x", "1.2.3.4")
    await asyncio.sleep(0.05)
    # What is not JSON is flagged as it is stored: only the confirmation waits.
    assert await reprocess_stored(database, isp.schema, older_than=timedelta(0)) == 1
    assert await reprocess_stored(database, isp.schema, older_than=timedelta(0)) == 0
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 25_000
        outcomes = sorted(o.value for o in await session.scalars(select(MpesaCallback.outcome)))
    assert outcomes == ["credited", "flagged"]
    await check_invariants(isp)


async def test_a_changed_replay_is_flagged_with_its_receipt_so_it_can_be_found(
    isp, add_subscriber, client_for, session_for
):
    subscriber = await add_subscriber(isp)
    request_id = await _stk_request(session_for, isp, subscriber, "ws_CO_R1", amount=10_000)
    c2b = c2b_body("RKR1", "100", subscriber.account_number)
    await _post(client_for, isp.hook("c2b/confirmation"), c2b)
    await _post(client_for, isp.hook("c2b/confirmation"), {**c2b, "TransAmount": "900"})
    await _post(client_for, isp.hook("stk"), stk_body("ws_CO_R1", amount=100, receipt="RKR2"))
    await _post(client_for, isp.hook("stk"), stk_body("ws_CO_R1", amount=900, receipt="RKR2"))
    async with session_for(isp) as session:
        flagged, _ = await list_flagged(session)
        assert (await session.get(MpesaRequest, request_id)).status is RequestStatus.PAID
    assert sorted((f.flag, f.receipt) for f in flagged) == [
        ("changed_replay", "RKR1"),
        ("changed_replay", "RKR2"),
    ]


async def test_a_hashed_msisdn_is_kept_whole_and_matches_the_phone_it_hashes(
    isp, add_subscriber, client_for, session_for, check_invariants
):
    import hashlib

    subscriber = await add_subscriber(isp, phone="+254712000333")
    await add_subscriber(isp, phone="+254712000444")
    # Safaricom's form: SHA-256 of the MSISDN as 2547…, in hex.
    hashed = hashlib.sha256(b"254712000333").hexdigest()
    validation = c2b_body("RKH2", "100", "wrong ref", msisdn=hashed)
    answer = await _post(client_for, isp.hook("c2b/validation"), validation)
    assert answer.json()["ResultCode"] == "0"
    await _post(client_for, isp.hook("c2b/confirmation"), validation)
    stranger = hashlib.sha256(b"254799999999").hexdigest().upper()
    await _post(client_for, isp.hook("c2b/confirmation"), c2b_body("RKH3", "100", "x", stranger))
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 10_000
        rows = {t.receipt: t for t in await session.scalars(select(MpesaTransaction))}
    assert rows["RKH2"].msisdn == hashed and rows["RKH2"].status is TransactionStatus.CREDITED
    assert rows["RKH3"].msisdn == stranger and rows["RKH3"].status is TransactionStatus.UNMATCHED
    await check_invariants(isp)


async def test_a_transtime_in_the_future_never_starts_the_period_later_than_now(
    isp, add_subscriber, add_expired_service, client_for, session_for, check_invariants
):
    from datetime import UTC, datetime, timedelta

    from kiunga.integrations.mpesa.callbacks import daraja_timestamp

    subscriber = await add_subscriber(isp)
    service_id = await add_expired_service(isp, subscriber.id, price=100_000)
    ahead = daraja_timestamp(datetime.now(UTC) + timedelta(days=3))
    body = {**c2b_body("RKF1", "1000", subscriber.account_number), "TransTime": ahead}
    before = datetime.now(UTC)
    await _post(client_for, isp.hook("c2b/confirmation"), body)
    after = datetime.now(UTC)
    async with session_for(isp) as session:
        service = await session.get(Service, service_id)
        payment = await session.scalar(select(Payment).where(Payment.reference == "RKF1"))
    assert service.status is ServiceStatus.ACTIVE
    assert before - timedelta(seconds=1) <= service.period_start <= after
    assert payment.received_at <= after
    await check_invariants(isp)
