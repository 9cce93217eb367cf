"""The demo ISP's M-Pesa for `kiunga up`: settings pointing at the local Daraja emulator
(its demo app), the C2B URLs registered there, and one lapsed subscriber (account DEMO1)
whose prepaid service comes back when a paybill payment for it arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kiunga.integrations.mpesa.emulator import (
    DEMO_CONSUMER_KEY,
    DEMO_CONSUMER_SECRET,
    DEMO_INITIATOR_NAME,
    DEMO_PASSKEY,
    DEMO_SECURITY_CREDENTIAL,
    DEMO_SHORTCODE,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.mpesa.config import (
    SettingsChange,
    rotate_callback_token,
    settings_row,
    update_settings,
)
from kiunga.tenants.mpesa.connection import register_c2b
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.models import Service
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus
from sqlalchemy import select

DEMO_ACCOUNT = "DEMO1"
DEMO_PHONE = "+254708374149"
DEMO_PRICE = 100_000  # KES 1,000 a month
SEEDER = Actor.system("demo")


@dataclass(frozen=True)
class DemoMpesa:
    shortcode: str
    account_number: str
    amount_shillings: int
    msisdn: str
    registered: bool
    message: str
    # The demo subscriber's service as the database has it now ("expired" until a payment
    # for it arrives, then "active"), and when its paid period ends.
    service_status: str | None = None
    paid_until: datetime | None = None

    @property
    def lapsed(self) -> bool:
        return self.service_status != "active"


async def _seed_settings(session, tenant_id: int, emulator_url: str) -> None:
    row = await settings_row(session)
    if row is None:
        await update_settings(
            session,
            SettingsChange(
                environment="sandbox",
                base_url=emulator_url,
                shortcode_type="paybill",
                shortcode=DEMO_SHORTCODE,
                consumer_key=DEMO_CONSUMER_KEY,
                consumer_secret=DEMO_CONSUMER_SECRET,
                passkey=DEMO_PASSKEY,
                initiator_name=DEMO_INITIATOR_NAME,
                security_credential=DEMO_SECURITY_CREDENTIAL,
            ),
        )
        await rotate_callback_token(session, tenant_id)
    elif row.base_url and row.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        # The emulator may listen on another port than last time.
        await update_settings(session, SettingsChange(base_url=emulator_url))


async def _seed_lapsed_subscriber(session) -> None:
    exists = await session.scalar(
        select(Subscriber.id).where(Subscriber.account_number == DEMO_ACCOUNT)
    )
    if exists is not None:
        return
    start = utcnow() - timedelta(days=40)
    package = Package(
        name="Demo Home 10 Mbps", price=DEMO_PRICE, currency="KES",
        billing_type=BillingType.PREPAID, validity_count=1, validity_unit=ValidityUnit.MONTH,
        service_type=ServiceType.PPPOE, rate_limit="5M/10M",
    )  # fmt: skip
    subscriber = Subscriber(
        account_number=DEMO_ACCOUNT, name="Wanjiru Demo", status=SubscriberStatus.ACTIVE
    )
    subscriber.phones.append(SubscriberPhone(phone=DEMO_PHONE, is_primary=True))
    session.add_all([package, subscriber])
    await session.flush()
    # Last month was paid in cash; this month was not, so the service ran out.
    await record_payment(
        session, subscriber.id, DEMO_PRICE, method="cash", reference=None,
        received_at=start, actor=SEEDER,
    )  # fmt: skip
    service = await create_service(
        session,
        NewService(subscriber_id=subscriber.id, package_id=package.id, username="wanjiru"),
        actor=SEEDER,
        now=start,
    )
    await lifecycle.expire_service(session, service.id, actor=SEEDER)


async def _demo_service_state(session) -> tuple[str | None, datetime | None]:
    row = (
        await session.execute(
            select(Service.status, Service.expires_at)
            .join(Subscriber, Subscriber.id == Service.subscriber_id)
            .where(Subscriber.account_number == DEMO_ACCOUNT)
            .order_by(Service.id)
            .limit(1)
        )
    ).first()
    return (row.status.value, row.expires_at) if row else (None, None)


async def seed_demo_mpesa(database_url: str, slug: str, emulator_url: str) -> DemoMpesa:
    """Idempotent: a second run only points the settings at the emulator's current address
    and registers the C2B URLs again (the emulator forgets them when it stops)."""
    database = Database(database_url, pool_size=2)
    try:
        async with database.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        async with database.tenant_session(tenant.schema_name) as session, session.begin():
            await _seed_settings(session, tenant.id, emulator_url)
            await _seed_lapsed_subscriber(session)
            status, paid_until = await _demo_service_state(session)
        result = await register_c2b(database, tenant.schema_name)
    finally:
        await database.dispose()
    return DemoMpesa(
        shortcode=DEMO_SHORTCODE,
        account_number=DEMO_ACCOUNT,
        amount_shillings=DEMO_PRICE // 100,
        msisdn=DEMO_PHONE.lstrip("+"),
        registered=result.ok,
        message=result.message,
        service_status=status,
        paid_until=paid_until,
    )
