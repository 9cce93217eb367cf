"""Buying a hotspot package on the portal with M-Pesa, against the Daraja emulator over real
HTTP (Kiunga served by uvicorn on a free port, the emulator calling its callback URLs):
paid → a voucher billed, sold, redeemed for the device and announced for the SMS, once
however often Daraja calls back; cancelled, unaffordable, timed out, paid another amount;
settled by STK Query; and the input the portal must refuse."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from kiunga.channels.portal.purchases import purchase_view, start_purchase
from kiunga.integrations.mpesa.client import DarajaError, StkPushAccepted
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.billing.models import Invoice, InvoiceStatus, Payment
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.mpesa import config, stk
from kiunga.tenants.mpesa.config import rotate_callback_token
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.mpesa.models import MpesaRequest, RequestStatus
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.models import (
    HotspotPurchase,
    PurchaseStatus,
    SaleChannel,
    Voucher,
    VoucherBatch,
    VoucherSale,
    VoucherStatus,
)
from sqlalchemy import func, select

from fixtures.mpesa import stk_decided, use_daraja_app
from fixtures.waiting import WITHIN, eventually

pytestmark = pytest.mark.slow

MAC = "AA:BB:CC:00:11:22"


@dataclasses.dataclass
class Mpesa:
    token: str
    shortcode: str


@pytest.fixture
async def mpesa_ready(daraja, daraja_app, tenant, unit_of_work) -> Mpesa:
    """The tenant's M-Pesa set up with an app of its own at the emulator."""
    app = await daraja_app("Hotspot ISP")
    async with unit_of_work() as session:
        await use_daraja_app(session, daraja, app)
        return Mpesa(await rotate_callback_token(session, tenant.id), app["shortcode"])


@pytest.fixture
def portal_package(add_package):
    async def add(**extra) -> int:
        extra.setdefault("sold_on_portal", True)
        return await add_package(**extra)

    return add


async def _view_when(database, schema, token, status, seconds=WITHIN):
    deadline = time.monotonic() + seconds
    while True:
        async with database.tenant_session(schema) as session:
            view = await purchase_view(session, token)
        if view.status == status or time.monotonic() > deadline:
            assert view.status == status, view
            return view
        await asyncio.sleep(0.1)


async def _count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_paid_purchase_issues_one_voucher_redeemed_for_the_device(
    kiunga, daraja, mpesa_ready, database, tenant, unit_of_work, portal_package
):
    package_id = await portal_package(price=2_000)
    purchase = await start_purchase(
        database,
        tenant.schema,
        package_id=package_id,
        phone="0712 345 678",
        mac=MAC.lower(),
        ip="10.5.0.7",
        language="sw",
    )
    assert purchase.status is PurchaseStatus.PENDING and len(purchase.token) >= 43
    assert purchase.phone == "+254712345678" and purchase.mac_address == MAC
    assert purchase.mpesa_request_id is not None

    view = await _view_when(database, tenant.schema, purchase.token, "paid")
    assert view.code and view.failure is None
    assert view.amount == 2_000 and view.currency == "KES"
    assert view.phone_masked == "0712***678"
    assert view.expires_at is not None
    assert view.expires_at - utcnow() > timedelta(minutes=55)

    async with unit_of_work() as session:
        purchase = await session.get(HotspotPurchase, purchase.id)
        assert purchase.status is PurchaseStatus.PAID and purchase.completed_at
        request = await session.get(MpesaRequest, purchase.mpesa_request_id)
        assert request.status is RequestStatus.PAID
        checkout = request.checkout_request_id
        voucher = await session.get(Voucher, purchase.voucher_id)
        assert voucher.code == view.code
        assert voucher.status is VoucherStatus.ACTIVE and voucher.mac_address == MAC
        service = await session.get(Service, voucher.service_id)
        assert service.status is ServiceStatus.ACTIVE
        assert service.subscriber_id == purchase.subscriber_id
        assert service.username == voucher.code and service.mac_address == MAC
        batch = await session.get(VoucherBatch, voucher.batch_id)
        assert batch.name == "Portal sales" and batch.count == 1 and batch.mac_binding

        buyer = await session.get(Subscriber, purchase.subscriber_id)
        assert buyer.name == "Hotspot +254712345678" and buyer.language == "sw"
        assert buyer.primary_phone == "+254712345678"
        payment = await session.scalar(select(Payment).where(Payment.subscriber_id == buyer.id))
        assert payment.amount == 2_000
        sale = await session.scalar(select(VoucherSale).where(VoucherSale.voucher_id == voucher.id))
        assert sale.channel is SaleChannel.PORTAL and sale.payment_id == payment.id
        assert sale.price == 2_000 and sale.commission == 0
        invoice = await session.scalar(select(Invoice).where(Invoice.subscriber_id == buyer.id))
        assert invoice.status is InvoiceStatus.PAID and invoice.total == 2_000
        package = await session.get(Package, package_id)
        assert [line.description for line in invoice.lines] == [f"Hotspot: {package.name}"]
        assert invoice.lines[0].service_id == service.id
        # What was paid went to the voucher: nothing owed, nothing left over.
        assert await ledger.balance(session, buyer.id) == 0

        events = list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "voucher.issued"))
        )
        assert len(events) == 1
        issued = events[0].payload
        assert issued["code"] == voucher.code and issued["phone"] == "+254712345678"
        assert issued["language"] == "sw" and issued["expires_at"]
        assert issued["package_name"].startswith("Hotspot ")
        await assert_ledger_invariants(session)

    # Daraja calls back again with the same receipt: recorded once, no second voucher.
    async with httpx.AsyncClient(timeout=10) as http:
        log = (await http.get(f"{daraja.url}/emulator/log", params={"direction": "out"})).json()
        sent = [entry for entry in log if entry.get("checkout_request_id") == checkout]
        assert sent, log
        for _ in range(2):
            again = await http.post(
                f"{daraja.url}/emulator/redeliver", json={"log_id": sent[-1]["id"]}
            )
            assert again.status_code == 200, again.text
    async with unit_of_work() as session:
        assert await _count(session, Voucher) == 1
        assert await _count(session, Payment) == 1
        assert await _count(session, Invoice) == 1
        assert await _count(session, OutboxEvent, OutboxEvent.topic == "voucher.issued") == 1
        await assert_ledger_invariants(session)

    # The same phone buys again: the same customer, the same batch, a second voucher.
    second = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="+254712345678",
        mac="AA:BB:CC:00:11:33", ip=None,
    )  # fmt: skip
    again = await _view_when(database, tenant.schema, second.token, "paid")
    assert again.code != view.code
    async with unit_of_work() as session:
        second = await session.get(HotspotPurchase, second.id)
        assert second.subscriber_id == purchase.subscriber_id
        voucher = await session.get(Voucher, second.voucher_id)
        assert voucher.batch_id == batch.id
        assert (await session.get(VoucherBatch, batch.id)).count == 2
        assert await ledger.balance(session, purchase.subscriber_id) == 0
        await assert_ledger_invariants(session)


@pytest.mark.parametrize(
    ("suffix", "reason", "words"),
    [
        ("1032", "cancelled", "You cancelled the payment"),
        ("0001", "insufficient_funds", "Your M-Pesa balance is not enough for this package"),
        ("1037", "unreachable", "The request timed out: your phone could not be reached"),
        ("2001", "wrong_pin", "The M-Pesa PIN was wrong"),
    ],
)
async def test_a_failed_payment_is_told_in_plain_words(
    kiunga, mpesa_ready, database, tenant, unit_of_work, portal_package, suffix, reason, words
):
    package_id = await portal_package()
    purchase = await start_purchase(
        database, tenant.schema, package_id=package_id, phone=f"071234{suffix}",
        mac=MAC, ip="10.5.0.8",
    )  # fmt: skip
    view = await _view_when(database, tenant.schema, purchase.token, "failed")
    assert view.failure == words and view.failure_reason == reason and view.code is None
    async with unit_of_work() as session:
        assert await _count(session, Voucher) == 0
        assert await _count(session, Payment) == 0
        # The buyer's account is made only once paid: a failed prompt leaves none.
        assert await _count(session, Subscriber) == 0
        assert (await session.get(HotspotPurchase, purchase.id)).subscriber_id is None


async def test_a_payment_settled_by_stk_query_issues_the_voucher(
    kiunga, daraja, mpesa_ready, database, tenant, unit_of_work, portal_package
):
    """No callback ever comes (a phone ending 0000): the settle job asks Daraja."""
    package_id = await portal_package(price=5_000)
    purchase = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="0712340000", mac=MAC, ip=None
    )
    async with unit_of_work() as session:
        request = await session.get(MpesaRequest, purchase.mpesa_request_id)
    await eventually(stk_decided(daraja, request.checkout_request_id))
    async with database.tenant_session(tenant.schema) as session:
        assert (await purchase_view(session, purchase.token)).status == "pending"
    report = await stk.settle_pending(database, tenant.schema, now=utcnow() + timedelta(minutes=2))
    assert report["paid"] == 1, report
    view = await _view_when(database, tenant.schema, purchase.token, "paid")
    async with unit_of_work() as session:
        voucher = await session.scalar(select(Voucher).where(Voucher.code == view.code))
        assert voucher.status is VoucherStatus.ACTIVE
        purchase = await session.get(HotspotPurchase, purchase.id)
        buyer = await session.get(Subscriber, purchase.subscriber_id)
        assert buyer.name == "Hotspot +254712340000"
        assert (await session.get(Service, voucher.service_id)).subscriber_id == buyer.id
        assert await ledger.balance(session, buyer.id) == 0
        await assert_ledger_invariants(session)


async def test_another_amount_is_held_for_review_and_issues_nothing(
    kiunga, mpesa_ready, database, tenant, unit_of_work, portal_package
):
    package_id = await portal_package(price=2_000)
    # A phone ending 0000 gets no callback from the emulator: this test sends its own.
    purchase = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="0712350000", mac=MAC, ip=None
    )
    async with unit_of_work() as session:
        request = await session.get(MpesaRequest, purchase.mpesa_request_id)
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": request.merchant_request_id,
                "CheckoutRequestID": request.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 10},
                        {"Name": "MpesaReceiptNumber", "Value": f"RV{uuid.uuid4().hex[:8]}"},
                        {"Name": "TransactionDate", "Value": 20261122101502},
                        {"Name": "PhoneNumber", "Value": 254712350000},
                    ]
                },
            }
        }
    }
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{kiunga.url}/hooks/daraja/{mpesa_ready.token}/stk", json=body)
    assert answer.status_code == 200, answer.text
    view = await _view_when(database, tenant.schema, purchase.token, "failed")
    assert "being checked" in view.failure and view.failure_reason == "being_checked"
    async with unit_of_work() as session:
        assert (await session.get(MpesaRequest, request.id)).status is RequestStatus.REVIEW
        assert await _count(session, Voucher) == 0


async def test_a_refused_push_fails_the_purchase(database, tenant, unit_of_work, portal_package,
                                                 mpesa_ready, monkeypatch, settings):  # fmt: skip
    monkeypatch.setattr(
        config, "get_settings", lambda: dataclasses.replace(settings, public_url="http://x.test")
    )

    class Refusing:
        def __call__(self, credentials):
            return self

        async def stk_push(self, **kwargs):
            raise DarajaError("500.001.1001", "Unable to lock subscriber")

    package_id = await portal_package()
    with pytest.raises(MpesaError) as refused:
        await start_purchase(
            database, tenant.schema, package_id=package_id, phone="0712345000", mac=MAC,
            ip=None, gateway_factory=Refusing(),
        )  # fmt: skip
    assert refused.value.field == "mpesa"
    async with unit_of_work() as session:
        purchase = await session.scalar(
            select(HotspotPurchase).where(HotspotPurchase.phone == "+254712345000")
        )
        assert purchase.status is PurchaseStatus.FAILED
        assert "Unable to lock subscriber" in purchase.failure
        view = await purchase_view(session, purchase.token)
    assert view.status == "failed" and "Unable to lock subscriber" in view.failure


class NoDaraja:
    """Input the portal refuses never reaches Daraja."""

    def __call__(self, credentials):
        raise AssertionError("Daraja must not be asked")


async def test_packages_the_portal_does_not_sell_are_refused(
    database, tenant, make_tenant, unit_of_work, add_package, portal_package
):
    other = make_tenant("vcx")
    not_on_portal = await add_package()
    archived = await portal_package()
    free = await portal_package(price=0)
    cents = await portal_package(price=2_050)
    async with unit_of_work() as session:
        (await session.get(Package, archived)).archived_at = utcnow()
        pppoe = await session.get(Package, await add_package())
    async with unit_of_work() as session:
        pppoe = await session.get(Package, pppoe.id)
        pppoe.service_type = ServiceType.PPPOE
        pppoe.sold_on_portal = True
        here = await session.scalar(select(func.max(Package.id)))
    # Another ISP's package, with an id nobody has here.
    for _ in range(here + 1):
        elsewhere = await portal_package(schema=other.schema)
    for package_id in (not_on_portal, archived, free, cents, pppoe.id, elsewhere, "3", None):
        with pytest.raises(VoucherError) as refused:
            await start_purchase(
                database, tenant.schema, package_id=package_id, phone="0712345678", mac=MAC,
                ip=None, gateway_factory=NoDaraja(),
            )  # fmt: skip
        assert refused.value.field == "package_id", package_id
    async with unit_of_work() as session:
        assert await _count(session, HotspotPurchase) == 0
        assert await _count(session, MpesaRequest) == 0


@pytest.mark.parametrize(
    "phone", ["", "   ", "hello", "0712", "+255712345678", "+14155550123", "020 2222222", None]
)
async def test_a_phone_m_pesa_cannot_charge_is_refused(
    database, tenant, unit_of_work, portal_package, phone
):
    package_id = await portal_package()
    with pytest.raises(VoucherError) as refused:
        await start_purchase(
            database, tenant.schema, package_id=package_id, phone=phone, mac=MAC, ip=None,
            gateway_factory=NoDaraja(),
        )  # fmt: skip
    assert refused.value.field == "phone"
    async with unit_of_work() as session:
        assert await _count(session, Subscriber) == 0


class Accepting:
    """Daraja accepting every push (nobody pays: these tests look at what was stored)."""

    def __init__(self):
        self.pushes = []

    def __call__(self, credentials):
        return self

    async def stk_push(self, **kwargs):
        self.pushes.append(kwargs)
        n = len(self.pushes)
        return StkPushAccepted(f"m-{uuid.uuid4().hex[:8]}", f"ws_CO_{uuid.uuid4().hex}", f"{n}")


async def test_a_bad_mac_counts_as_none_and_one_prompt_waits_at_a_time(
    database, tenant, unit_of_work, portal_package, mpesa_ready, monkeypatch, settings
):
    monkeypatch.setattr(
        config, "get_settings", lambda: dataclasses.replace(settings, public_url="http://x.test")
    )
    package_id = await portal_package(price=3_000)
    daraja = Accepting()
    purchase = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="254 712 345 678",
        mac="not-a-mac", ip=" 10.0.0.9 ", gateway_factory=daraja,
    )  # fmt: skip
    assert purchase.mac_address is None and purchase.ip_address == "10.0.0.9"
    assert [push["phone"] for push in daraja.pushes] == ["+254712345678"]
    assert [push["amount_minor"] for push in daraja.pushes] == [3_000]
    # While that prompt waits on the phone, a second one is refused (no double payment).
    with pytest.raises(VoucherError) as refused:
        await start_purchase(
            database, tenant.schema, package_id=package_id, phone="0712345678", mac=None,
            ip=None, gateway_factory=daraja,
        )  # fmt: skip
    assert refused.value.field == "phone" and refused.value.status_code == 409
    assert len(daraja.pushes) == 1
    other = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="0722000111", mac=None, ip=None,
        gateway_factory=daraja,
    )  # fmt: skip
    assert len(daraja.pushes) == 2
    # Nobody has paid: no account is made for either phone (the portal is open to anyone).
    assert purchase.subscriber_id is None and other.subscriber_id is None
    async with unit_of_work() as session:
        assert await _count(session, HotspotPurchase) == 2
        assert await _count(session, MpesaRequest) == 2
        assert await _count(session, MpesaRequest, MpesaRequest.subscriber_id.is_(None)) == 2
        assert await _count(session, Subscriber) == 0
        references = set(await session.scalars(select(MpesaRequest.account_reference)))
        assert all(reference.startswith("PAY") for reference in references), references
    async with database.tenant_session(tenant.schema) as session:
        view = await purchase_view(session, purchase.token)
        assert view.status == "pending" and view.failure is None and view.code is None
        assert view.pending_until > utcnow() + timedelta(minutes=10)
        assert await purchase_view(session, "no-such-token") is None
        assert await purchase_view(session, "x" * 500) is None


async def test_a_c2b_confirmation_before_the_stk_callback_issues_one_voucher(
    kiunga, mpesa_ready, database, tenant, unit_of_work, portal_package
):
    """Daraja may confirm an STK payment to a paybill by C2B first: the voucher is issued
    then, and the STK callback with the same receipt changes nothing."""
    package_id = await portal_package(price=2_000)
    purchase = await start_purchase(
        database, tenant.schema, package_id=package_id, phone="0712360000", mac=MAC, ip=None
    )
    async with unit_of_work() as session:
        request = await session.get(MpesaRequest, purchase.mpesa_request_id)
    receipt = f"RC{uuid.uuid4().hex[:8].upper()}"
    confirmation = {
        "TransactionType": "Pay Bill",
        "TransID": receipt,
        "TransTime": "20261122101500",
        "TransAmount": "20.00",
        "BusinessShortCode": mpesa_ready.shortcode,
        "BillRefNumber": request.account_reference,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "254712360000",
        "FirstName": "Achieng",
        "MiddleName": "",
        "LastName": "Otieno",
    }
    callback = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": request.merchant_request_id,
                "CheckoutRequestID": request.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 20},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20261122101502},
                        {"Name": "PhoneNumber", "Value": 254712360000},
                    ]
                },
            }
        }
    }
    hooks = f"{kiunga.url}/hooks/daraja/{mpesa_ready.token}"
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{hooks}/c2b/confirmation", json=confirmation)
        assert answer.status_code == 200, answer.text
        view = await _view_when(database, tenant.schema, purchase.token, "paid")
        answer = await http.post(f"{hooks}/stk", json=callback)
        assert answer.status_code == 200, answer.text
    async with unit_of_work() as session:
        assert (await session.get(MpesaRequest, request.id)).status is RequestStatus.PAID
        assert await _count(session, Voucher) == 1
        assert await _count(session, Payment) == 1
        voucher = await session.scalar(select(Voucher))
        assert voucher.code == view.code and voucher.status is VoucherStatus.ACTIVE
        # The C2B confirmation named the request by its PAY<id> reference and made the
        # buyer's account; the STK callback found it there.
        assert request.account_reference == f"PAY{request.id}"
        purchase = await session.get(HotspotPurchase, purchase.id)
        assert (await session.get(MpesaRequest, request.id)).subscriber_id == purchase.subscriber_id
        assert await _count(session, Subscriber) == 1
        assert await ledger.balance(session, purchase.subscriber_id) == 0
        await assert_ledger_invariants(session)


async def test_a_home_subscriber_sharing_the_phone_is_not_the_buyer(
    database, tenant, unit_of_work, portal_package
):
    """The voucher's money must not go to a home account's open invoices, and paybill
    payments matched by phone must still find the home subscriber."""
    async with unit_of_work() as session:
        home = Subscriber(account_number="HOME1", name="Wanjiku", status="active")
        home.phones.append(SubscriberPhone(phone="+254712345678", is_primary=True))
        session.add(home)
    from kiunga.channels.portal.buyers import buyer_subscriber

    async with unit_of_work() as session:
        buyer = await buyer_subscriber(session, "+254712345678")
        home_id = await session.scalar(
            select(Subscriber.id).where(Subscriber.account_number == "HOME1")
        )
        assert buyer != home_id
        holders = await _count(session, SubscriberPhone, SubscriberPhone.phone == "+254712345678")
        assert holders == 1
