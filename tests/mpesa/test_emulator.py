"""End to end against the Daraja emulator over real HTTP: Kiunga served by uvicorn on a
free port (its public URL), the emulator calling our callback URLs as Safaricom would.
C2B URL registration, a paybill payment with repeated confirmations, an STK push paid by
callback, and one whose callback never comes (settled by STK Query)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from kiunga.platform.db.base import utcnow
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa import connection, stk
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.services.models import Service, ServiceStatus
from sqlalchemy import func, select

from .conftest import STAFF
from fixtures.mpesa import stk_decided, use_daraja_app
from fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def emulated_isp(daraja, daraja_app, make_isp, session_for):
    """An ISP whose M-Pesa settings name an app of its own at the emulator."""

    async def make():
        app = await daraja_app()
        isp = await make_isp("emu", shortcode=app["shortcode"])
        async with session_for(isp) as session:
            await use_daraja_app(session, daraja, app)
        return isp, app["shortcode"]

    return make


async def test_paybill_payment_through_the_emulator_restores_service_once(
    kiunga, daraja, emulated_isp, database, add_subscriber, add_expired_service, session_for,
    check_invariants,
):  # fmt: skip
    isp, shortcode = await emulated_isp()
    subscriber = await add_subscriber(isp, account="EMU77")
    service_id = await add_expired_service(isp, subscriber.id, price=100_000)

    checked = await connection.test_connection(database, isp.schema)
    assert checked.ok, checked.message
    registered = await connection.rotate_and_register(database, isp.schema, isp.id)
    assert registered.ok, registered.message

    async with httpx.AsyncClient(timeout=30) as http:
        paid = await http.post(
            f"{daraja.url}/emulator/c2b/pay",
            json={
                "shortcode": shortcode,
                "amount": 1000,
                "msisdn": "254712345149",
                "bill_ref_number": "emu 77",
                "duplicates": 2,
                "mask_msisdn": True,
            },
        )
        assert paid.status_code == 200, paid.text
        result = paid.json()
        assert result["accepted"] and len(result["confirmations"]) == 3
        refused = await http.post(
            f"{daraja.url}/emulator/c2b/pay",
            json={"shortcode": shortcode, "amount": 10, "msisdn": "254712345149",
                  "bill_ref_number": "NOBODY"},
        )  # fmt: skip
        assert refused.json()["accepted"] is False

    async with session_for(isp) as session:
        assert (await session.get(Service, service_id)).status is ServiceStatus.ACTIVE
        count = select(func.count()).select_from(Payment).where(Payment.method == "mpesa")
        assert await session.scalar(count) == 1
        assert await ledger.balance(session, subscriber.id) == 0
    await check_invariants(isp)


async def test_stk_push_paid_by_callback_and_by_stk_query(
    kiunga, daraja, emulated_isp, database, add_subscriber, session_for, check_invariants
):
    isp, _ = await emulated_isp()
    subscriber = await add_subscriber(isp, phone="+254712345678")
    ask = stk.PaymentAsk(phone=None, amount=20_000, subscriber_id=subscriber.id)
    request = await stk.request_payment(database, isp.schema, ask, actor=STAFF)
    assert request.checkout_request_id

    async def paid(request_id):
        async with session_for(isp) as session:
            found = await session.get(MpesaRequest, request_id)
            return found.status is RequestStatus.PAID

    await eventually(lambda: paid(request.id))

    # A phone ending 0000: paid, but the emulator never calls back; STK Query tells.
    silent = await stk.request_payment(
        database,
        isp.schema,
        stk.PaymentAsk(phone="0712340000", amount=30_000, subscriber_id=subscriber.id),
        actor=STAFF,
    )
    await eventually(stk_decided(daraja, silent.checkout_request_id))
    report = await stk.settle_pending(database, isp.schema, now=utcnow() + timedelta(minutes=2))
    assert report["paid"] == 1, report
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 50_000
        found = await session.get(MpesaRequest, silent.id)
        assert found.status is RequestStatus.PAID and found.receipt is None
    await check_invariants(isp)


async def test_a_poison_callback_never_holds_back_other_callbacks_or_stk_settlement(
    kiunga, daraja, emulated_isp, database, add_subscriber, session_for, check_invariants
):
    """The minute job with stored callbacks that cannot be processed (an amount of 1E+30, a
    TransID over 40 characters) before a good confirmation, and an STK push Daraja never
    called back about: the good ones are settled within two runs."""
    import json
    from types import SimpleNamespace

    from kiunga.tenants.mpesa.intake import store_callback
    from kiunga.tenants.mpesa.jobs import mpesa_settle_pending
    from kiunga.tenants.mpesa.models import CallbackKind, CallbackOutcome, MpesaCallback
    from sqlalchemy import update

    from .conftest import c2b_body

    isp, shortcode = await emulated_isp()
    subscriber = await add_subscriber(isp, phone="+254712345678")
    confirmations = [
        c2b_body("RPSN000001", "1E+30", subscriber.account_number, shortcode=shortcode),
        c2b_body("R" * 41, "100", subscriber.account_number, shortcode=shortcode),
        c2b_body("RGOD000001", "250", subscriber.account_number, shortcode=shortcode),
    ]
    for body in confirmations:
        # Stored, then the process died before processing them.
        raw = json.dumps(body).encode()
        await store_callback(database, isp.schema, CallbackKind.C2B_CONFIRMATION, raw, None)
    # Paid, but the emulator never calls back about a phone ending 0000.
    silent = await stk.request_payment(
        database,
        isp.schema,
        stk.PaymentAsk(phone="0712340000", amount=30_000, subscriber_id=subscriber.id),
        actor=STAFF,
    )
    await eventually(stk_decided(daraja, silent.checkout_request_id), within=60)
    async with session_for(isp) as session:
        two_minutes_ago = func.now() - timedelta(minutes=2)
        await session.execute(update(MpesaCallback).values(received_at=two_minutes_ago))
        await session.execute(update(MpesaRequest).values(created_at=two_minutes_ago))

    ctx = SimpleNamespace(database=database, tenant=SimpleNamespace(schema=isp.schema))
    failures = []
    for _ in range(2):  # the scheduler runs it again a minute later whatever happened
        try:
            await mpesa_settle_pending.fn(ctx, isp.slug, None)
        except Exception as error:  # noqa: BLE001
            failures.append(repr(error)[:200])

    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 25_000 + 30_000, failures
        request = await session.get(MpesaRequest, silent.id)
        assert request.status is RequestStatus.PAID, failures
        callbacks = list(await session.scalars(select(MpesaCallback).order_by(MpesaCallback.id)))
    assert [(c.outcome, c.flag) for c in callbacks] == [
        (CallbackOutcome.FLAGGED, "malformed"),
        (CallbackOutcome.FLAGGED, "malformed"),
        (CallbackOutcome.CREDITED, None),
    ]
    await check_invariants(isp)


async def test_a_payer_sent_hashed_is_matched_by_the_phone_it_hashes(
    kiunga, daraja, emulated_isp, database, add_subscriber, session_for, check_invariants
):
    isp, shortcode = await emulated_isp()
    subscriber = await add_subscriber(isp, phone="+254712345150")
    registered = await connection.rotate_and_register(database, isp.schema, isp.id)
    assert registered.ok, registered.message
    async with httpx.AsyncClient(timeout=30) as http:
        paid = await http.post(
            f"{daraja.url}/emulator/c2b/pay",
            json={
                "shortcode": shortcode,
                "amount": 300,
                "msisdn": "254712345150",
                "bill_ref_number": "not an account",
                "hash_msisdn": True,
            },
        )
    assert paid.status_code == 200, paid.text
    assert paid.json()["accepted"], paid.json()["validation"]
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 30_000
    await check_invariants(isp)
