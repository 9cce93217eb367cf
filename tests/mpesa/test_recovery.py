"""A stored callback whose processing raises (here the database refuses its receipt, by a
trigger) is answered in Daraja's shape, flagged with its error, retried a bounded number of
times by the minute job and then left for a person, and never holds back the others."""

from __future__ import annotations

import json
from datetime import timedelta

from kiunga.tenants.billing import ledger
from kiunga.tenants.mpesa.intake import reprocess_stored, store_callback
from kiunga.tenants.mpesa.models import CallbackKind, CallbackOutcome, MpesaCallback
from sqlalchemy import func, select, text, update

from .conftest import c2b_body

POISON = "RPOISON001"


async def _refuse_receipt(session_for, isp, receipt: str) -> None:
    async with session_for(isp) as session:
        await session.execute(
            text(
                f"""CREATE FUNCTION {isp.schema}.refuse_receipt() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.receipt = '{receipt}' THEN
                        RAISE EXCEPTION 'the disk is on fire';
                    END IF;
                    RETURN NEW;
                END $$"""
            )
        )
        await session.execute(
            text(
                f"""CREATE TRIGGER refuse_receipt BEFORE INSERT ON {isp.schema}.mpesa_transactions
                FOR EACH ROW EXECUTE FUNCTION {isp.schema}.refuse_receipt()"""
            )
        )


async def _callbacks(session_for, isp) -> dict[str, MpesaCallback]:
    async with session_for(isp) as session:
        rows = await session.scalars(select(MpesaCallback).order_by(MpesaCallback.id))
        return {row.body["TransID"]: row for row in rows}


async def test_a_callback_that_fails_to_process_is_flagged_retried_then_left(
    isp, add_subscriber, client_for, database, session_for, check_invariants
):
    subscriber = await add_subscriber(isp)
    await _refuse_receipt(session_for, isp, POISON)

    poison = c2b_body(POISON, "100", subscriber.account_number)
    answer = await client_for("daraja.example").post(isp.hook("c2b/confirmation"), json=poison)
    assert answer.status_code == 200 and answer.json()["ResultCode"] == "0"
    row = (await _callbacks(session_for, isp))[POISON]
    assert (row.outcome, row.flag, row.attempts) == (
        CallbackOutcome.RECEIVED,
        "processing_failed",
        1,
    )
    assert "the disk is on fire" in row.detail

    # A good confirmation stored after it, whose process died before processing it.
    good = json.dumps(c2b_body("RGOOD00002", "250", subscriber.account_number)).encode()
    await store_callback(database, isp.schema, CallbackKind.C2B_CONFIRMATION, good, None)
    async with session_for(isp) as session:
        await session.execute(
            update(MpesaCallback).values(received_at=func.now() - timedelta(minutes=2))
        )

    assert await reprocess_stored(database, isp.schema) == 2
    rows = await _callbacks(session_for, isp)
    assert rows["RGOOD00002"].outcome is CallbackOutcome.CREDITED
    assert (rows[POISON].outcome, rows[POISON].attempts) == (CallbackOutcome.RECEIVED, 2)

    # Retried a few times more, then left flagged for a person and no longer picked up.
    for _ in range(10):
        if await reprocess_stored(database, isp.schema) == 0:
            break
    rows = await _callbacks(session_for, isp)
    assert (rows[POISON].outcome, rows[POISON].flag) == (
        CallbackOutcome.FLAGGED,
        "processing_failed",
    )
    assert 2 < rows[POISON].attempts < 10
    assert await reprocess_stored(database, isp.schema) == 0
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 25_000
    await check_invariants(isp)
