"""Asking for a payment and buying a voucher from a phone, against the Daraja emulator."""

from __future__ import annotations

import pytest
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError
from kiunga.channels.selfservice.payments import ask_payment
from kiunga.channels.selfservice.vouchers import buy_voucher, voucher_offers
from kiunga.tenants.mpesa.config import rotate_callback_token
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.vouchers.models import PurchaseStatus

from fixtures.mpesa import use_daraja_app

pytestmark = pytest.mark.slow


@pytest.fixture
async def mpesa_ready(daraja, daraja_app, tenant, unit_of_work):
    app = await daraja_app("Selfcare ISP")
    async with unit_of_work() as session:
        await use_daraja_app(session, daraja, app)
        await rotate_callback_token(session, tenant.id)


async def test_asking_for_a_payment_sends_one_stk_push(
    mpesa_ready, customer, database, tenant, unit_of_work
):
    me = await customer(price=150_000, paid=False)
    request_id = await ask_payment(
        database, tenant.schema, subscriber_id=me.subscriber_id, phone="0712345678", amount=150_000
    )
    async with unit_of_work() as session:
        request = await session.get(MpesaRequest, request_id)
        assert request.subscriber_id == me.subscriber_id and request.amount == 150_000
        assert request.account_reference == me.account_number
        assert request.checkout_request_id and request.status in (
            RequestStatus.PENDING,
            RequestStatus.PAID,
        )
        assert request.requested_by == "selfcare:+254712345678"
    with pytest.raises(NotYours):
        await ask_payment(
            database, tenant.schema, subscriber_id=me.subscriber_id, phone="0799111222", amount=100
        )
    for bad in (0, 150, -100, "100", True, 10**12):
        with pytest.raises(SelfServiceError):
            await ask_payment(
                database, tenant.schema, subscriber_id=me.subscriber_id, phone=me.phone, amount=bad
            )


async def test_voucher_offers_in_both_languages_and_a_purchase(
    mpesa_ready, add_package, database, tenant, unit_of_work
):
    package_id = await add_package(
        service_type="hotspot",
        price=2_000,
        validity_unit="hour",
        sold_on_portal=True,
        name="One hour",
        name_sw="Saa moja",
    )
    await add_package(service_type="hotspot", price=1_000, sold_on_portal=False)
    async with unit_of_work() as session:
        english = await voucher_offers(session, "en")
        swahili = await voucher_offers(session, "sw")
    assert [(o.package_id, o.name, o.price) for o in english] == [(package_id, "One hour", 2_000)]
    assert swahili[0].name == "Saa moja"
    purchase = await buy_voucher(
        database, tenant.schema, phone="0712 345 600", package_id=package_id, language="sw"
    )
    assert purchase.status is PurchaseStatus.PENDING and purchase.phone == "+254712345600"
