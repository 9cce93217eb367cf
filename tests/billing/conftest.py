"""Billing fixtures: a tenant, sessions on its schema, subscribers, and the web shell's
fixtures (app, client_for, make_key, make_staff, login, csrf_token_in) for API tests."""

from __future__ import annotations

import importlib.util
import itertools
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kiunga.platform.db.engine import Database
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_billing", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login

CASHIER = Actor.staff(7, "cashier@isp.example")
JAN = datetime(2026, 1, 1, tzinfo=UTC)
_accounts = itertools.count(1)


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("bill")


@pytest.fixture
def unit_of_work(database, tenant):
    """`async with unit_of_work() as session:` one transaction on the tenant, committed on
    leaving (rolled back if the block raises)."""

    @asynccontextmanager
    async def open_(schema: str | None = None):
        async with database.tenant_session(schema or tenant.schema) as session:
            async with session.begin():
                yield session

    return open_


@pytest.fixture
def add_subscriber(unit_of_work):
    async def add(status: SubscriberStatus = SubscriberStatus.ACTIVE, schema=None) -> int:
        async with unit_of_work(schema) as session:
            subscriber = Subscriber(
                account_number=f"A{next(_accounts):05d}", name="Achieng Otieno", status=status
            )
            session.add(subscriber)
            await session.flush()
            return subscriber.id

    return add


@pytest.fixture
def check_invariants(unit_of_work):
    """Call at the end of a scenario: the tenant's ledger invariants, in a fresh session."""

    async def check(schema: str | None = None) -> dict[int, int]:
        async with unit_of_work(schema) as session:
            return await assert_ledger_invariants(session)

    return check
