"""M-Pesa fixtures: tenants with M-Pesa set up (a callback token each), subscribers with
prepaid services, and Daraja-shaped callback bodies."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.mpesa.config import SettingsChange, rotate_callback_token, update_settings
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus

SHORTCODE = "600984"
STAFF = Actor.staff(3, "ops@isp.example")
_numbers = itertools.count(1)


@dataclass
class Isp:
    id: int
    slug: str
    schema: str
    host: str
    token: str

    def hook(self, kind: str) -> str:
        return f"/hooks/daraja/{self.token}/{kind}"


@pytest.fixture
def session_for(unit_of_work):
    """`async with session_for(isp) as session:` one committed transaction on its schema."""
    return unit_of_work


@pytest.fixture
def make_isp(make_tenant, session_for, settings):
    async def make(prefix: str = "mp", shortcode: str = SHORTCODE, **change) -> Isp:
        created = make_tenant(prefix)
        isp = Isp(
            created.id, created.slug, created.schema, f"{created.slug}.{settings.base_domain}", ""
        )
        async with session_for(isp) as session:
            await update_settings(
                session,
                SettingsChange(
                    shortcode=shortcode,
                    consumer_key="key",
                    consumer_secret="secret",
                    passkey="passkey",
                    **change,
                ),
            )
            isp.token = await rotate_callback_token(session, isp.id)
        return isp

    return make


@pytest.fixture
async def isp(make_isp) -> Isp:
    return await make_isp()


@pytest.fixture
def add_subscriber(session_for):
    async def add(isp: Isp, phone: str | None = None, account: str | None = None) -> Subscriber:
        async with session_for(isp) as session:
            subscriber = Subscriber(
                account_number=account or f"AC{next(_numbers):05d}",
                name="Achieng Otieno",
                status=SubscriberStatus.ACTIVE,
            )
            if phone:
                subscriber.phones.append(SubscriberPhone(phone=phone, is_primary=True))
            session.add(subscriber)
            await session.flush()
            return subscriber

    return add


@pytest.fixture
def add_expired_service(session_for):
    """A prepaid service that ran out unpaid: a payment of `price` brings it back."""

    async def add(isp: Isp, subscriber_id: int, price: int = 100_000) -> int:
        start = datetime.now(UTC) - timedelta(days=40)
        async with session_for(isp) as session:
            package = Package(
                name=f"Home {next(_numbers)}",
                price=price,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=1,
                validity_unit=ValidityUnit.MONTH,
                service_type=ServiceType.PPPOE,
                rate_limit="5M/10M",
            )
            session.add(package)
            await session.flush()
            # The first period was paid in cash; the second was not.
            await record_payment(
                session,
                subscriber_id,
                price,
                method="cash",
                reference=None,
                received_at=start,
                actor=STAFF,
            )
            service = await create_service(
                session,
                NewService(subscriber_id=subscriber_id, package_id=package.id),
                actor=STAFF,
                now=start,
            )
            await lifecycle.expire_service(session, service.id, actor=STAFF)
            return service.id

    return add


def c2b_body(
    trans_id: str,
    amount: str | int = "1000.00",
    bill_ref: str = "",
    msisdn: str = "254708374149",
    shortcode: str = SHORTCODE,
) -> dict:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20261122101500",
        "TransAmount": str(amount),
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "Achieng",
        "MiddleName": "",
        "LastName": "Otieno",
    }


def stk_body(
    checkout_request_id: str,
    result_code: int = 0,
    amount: int | float = 1000,
    receipt: str = "",
    phone: int = 254708374149,
) -> dict:
    callback = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result_code,
        "ResultDesc": "The service request is processed successfully."
        if result_code == 0
        else "Request cancelled by user",
    }
    if result_code == 0:
        # Deliberately not in Daraja's usual order: items are read by name.
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "PhoneNumber", "Value": phone},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20261122101502},
                {"Name": "Amount", "Value": amount},
            ]
        }
    return {"Body": {"stkCallback": callback}}
