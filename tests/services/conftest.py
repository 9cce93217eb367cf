"""Services fixtures: a tenant, sessions on its schema, subscribers, packages, payments,
the outbox's topics, the ledger check, and the web shell's fixtures for API tests."""

from __future__ import annotations

import importlib.util
import itertools
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import select

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_services", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login

STAFF = Actor.staff(3, "ops@isp.example")
JAN = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("svc")


@pytest.fixture
def unit_of_work(database, tenant):
    """`async with unit_of_work() as session:` one transaction, committed on leaving."""

    @asynccontextmanager
    async def open_(schema: str | None = None):
        async with database.tenant_session(schema or tenant.schema) as session:
            async with session.begin():
                yield session

    return open_


@pytest.fixture
def add_subscriber(unit_of_work):
    async def add(status: SubscriberStatus = SubscriberStatus.PENDING_INSTALLATION) -> int:
        async with unit_of_work() as session:
            subscriber = Subscriber(
                account_number=f"S{next(_numbers):05d}", name="Achieng Otieno", status=status
            )
            session.add(subscriber)
            await session.flush()
            return subscriber.id

    return add


@pytest.fixture
def add_package(unit_of_work):
    async def add(
        price: int = 150_000,
        billing_type: BillingType = BillingType.PREPAID,
        validity_count: int = 1,
        validity_unit: ValidityUnit = ValidityUnit.MONTH,
        service_type: ServiceType = ServiceType.PPPOE,
    ) -> int:
        async with unit_of_work() as session:
            package = Package(
                name=f"Home {next(_numbers)}",
                price=price,
                currency="KES",
                billing_type=billing_type,
                validity_count=validity_count,
                validity_unit=validity_unit,
                service_type=service_type,
                rate_limit="5M/10M",
            )
            session.add(package)
            await session.flush()
            return package.id

    return add


@pytest.fixture
def pay(unit_of_work):
    """Record a payment (and so run the restore hook) in a transaction of its own."""

    async def pay_(subscriber_id: int, amount: int, at: datetime) -> None:
        async with unit_of_work() as session:
            await record_payment(
                session,
                subscriber_id,
                amount,
                method="mpesa",
                reference=f"QX{next(_numbers):08d}",
                received_at=at,
                actor=Actor.system("mpesa"),
            )

    return pay_


@pytest.fixture
def topics(unit_of_work):
    """The outbox's (topic, payload) pairs so far, oldest first, optionally of one topic."""

    async def read(prefix: str = "") -> list[tuple[str, dict]]:
        async with unit_of_work() as session:
            rows = await session.execute(
                select(OutboxEvent.topic, OutboxEvent.payload)
                .where(OutboxEvent.topic.startswith(prefix))
                .order_by(OutboxEvent.id)
            )
            return [(topic, payload) for topic, payload in rows]

    return read


@pytest.fixture
def check_invariants(unit_of_work):
    async def check() -> dict[int, int]:
        async with unit_of_work() as session:
            return await assert_ledger_invariants(session)

    return check
