"""A disabled ISP's M-Pesa callbacks: answered so that Daraja stops, and kept, so that a
customer's payment is credited once the ISP works again (never a 404 that loses it)."""

from __future__ import annotations

from datetime import timedelta

from kiunga.platform.db.engine import Database
from kiunga.platform.models import TenantStatus
from kiunga.platform.tenant_admin import set_tenant_status
from kiunga.tenants.mpesa.config import SettingsChange, rotate_callback_token, update_settings
from kiunga.tenants.mpesa.intake import reprocess_stored
from kiunga.tenants.mpesa.models import CallbackOutcome, MpesaCallback, MpesaTransaction
from sqlalchemy import select

SHORTCODE = "600984"


def c2b_body(trans_id: str) -> dict:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261207101500",
        "TransAmount": "500.00",
        "BusinessShortCode": SHORTCODE,
        "BillRefNumber": "nobody",
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "254708374149",
        "FirstName": "Achieng",
        "MiddleName": "",
        "LastName": "Otieno",
    }


async def test_a_disabled_isps_payment_is_answered_kept_and_credited_later(
    make_tenant, engine, database_url, client_for, base_host
):
    tenant = make_tenant("off")
    database = Database(database_url, pool_size=2)
    try:
        async with database.tenant_session(tenant.schema) as session, session.begin():
            await update_settings(
                session,
                SettingsChange(
                    shortcode=SHORTCODE,
                    consumer_key="key",
                    consumer_secret="secret",
                    passkey="passkey",
                ),
            )
            token = await rotate_callback_token(session, tenant.id)
        set_tenant_status(engine, tenant.slug, TenantStatus.DISABLED)
        daraja = client_for(base_host)

        validation = await daraja.post(
            f"/hooks/daraja/{token}/c2b/validation", json=c2b_body("SLD1OFF01")
        )
        assert validation.status_code == 200, validation.text
        assert validation.json()["ResultCode"] != "0"  # no new payments to a disabled ISP
        confirmation = await daraja.post(
            f"/hooks/daraja/{token}/c2b/confirmation", json=c2b_body("SLD1OFF02")
        )
        assert confirmation.status_code == 200, confirmation.text
        assert confirmation.json()["ResultCode"] == "0"  # Daraja stops retrying

        async with database.tenant_session(tenant.schema) as session:
            kept = list(await session.scalars(select(MpesaCallback).order_by(MpesaCallback.id)))
            assert [callback.outcome for callback in kept] == [CallbackOutcome.RECEIVED] * 2
            assert kept[1].body["TransID"] == "SLD1OFF02"
            assert await session.scalar(select(MpesaTransaction.id)) is None  # held, not used

        set_tenant_status(engine, tenant.slug, TenantStatus.ACTIVE)
        await reprocess_stored(database, tenant.schema, older_than=timedelta(0))
        async with database.tenant_session(tenant.schema) as session:
            receipts = set(await session.scalars(select(MpesaTransaction.receipt)))
            assert receipts == {"SLD1OFF02"}

        unknown = await daraja.post("/hooks/daraja/no-such-token/c2b/confirmation", json={})
        assert unknown.status_code == 404
    finally:
        await database.dispose()
