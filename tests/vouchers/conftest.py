"""Vouchers fixtures: a tenant, sessions on its schema, a hotspot package, resellers (agents),
the web shell's fixtures (app, client_for, make_key, make_staff, login, csrf_token_in), keys
with the voucher scopes, a reseller's own key, and agents signed in to the console."""

from __future__ import annotations

import importlib.util
import itertools
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import pytest
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
from kiunga.platform.auth.passwords import hash_password
from kiunga.platform.db.engine import Database
from kiunga.platform.models import StaffAccount, StaffRole, TenantMembership
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.subscribers.models import Reseller
from sqlalchemy.orm import Session

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_vouchers", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login
PASSWORD = _web.PASSWORD

VOUCHER_SCOPES = ("vouchers:read", "vouchers:write", "vouchers:sell", "packages:read")
# What a reseller's key may hold of them: making and revoking batches is ISP-wide.
AGENT_SCOPES = ("vouchers:read", "vouchers:sell", "packages:read")
_numbers = itertools.count(1)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("vch")


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
def add_package(unit_of_work):
    """A hotspot package (KES 20 for an hour by default); returns its id."""

    async def add(
        price: int = 2_000,
        validity_count: int = 1,
        validity_unit: ValidityUnit = ValidityUnit.HOUR,
        schema: str | None = None,
        **extra,
    ) -> int:
        async with unit_of_work(schema) as session:
            package = Package(
                name=f"Hotspot {next(_numbers)}",
                price=price,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=validity_count,
                validity_unit=validity_unit,
                service_type=ServiceType.HOTSPOT,
                rate_limit="2M/2M",
                **extra,
            )
            session.add(package)
            await session.flush()
            return package.id

    return add


@pytest.fixture
def add_reseller(unit_of_work):
    """A reseller record (an agent who sells vouchers); returns its id."""

    async def add(name: str | None = None, schema: str | None = None) -> int:
        async with unit_of_work(schema) as session:
            reseller = Reseller(name=name or f"Agent {next(_numbers)}", phone=None)
            session.add(reseller)
            await session.flush()
            return reseller.id

    return add


@pytest.fixture
def voucher_key(make_key, tenant) -> str:
    return make_key(tenant.id, scopes=VOUCHER_SCOPES)


@pytest.fixture
def reseller_key(engine, settings, tenant):
    """An API key confined to one reseller (agent) record."""

    def make(reseller_id: int, scopes=AGENT_SCOPES, tenant_id: int | None = None) -> str:
        request = KeyRequest(
            scopes=scopes, tenant_id=tenant_id or tenant.id, reseller_id=reseller_id
        )
        return create_api_key_sync(engine, request, secret_key=settings.secret_key).token

    return make


@pytest.fixture
def make_agent(engine):
    """A staff account that is an agent of `tenant_id` tied to a reseller record; its email."""

    def make(tenant_id: int, reseller_id: int) -> str:
        email = f"agent{next(_numbers)}-{datetime.now().timestamp()}@example.test"
        with Session(engine) as session, session.begin():
            staff = StaffAccount(email=email, name="Otieno", password_hash=hash_password(PASSWORD))
            session.add(staff)
            session.flush()
            session.add(
                TenantMembership(
                    staff_id=staff.id,
                    tenant_id=tenant_id,
                    role=StaffRole.AGENT,
                    reseller_id=reseller_id,
                )
            )
        return email

    return make


@pytest.fixture
def signed_in(tenant, make_staff, login, client_for):
    """A console client signed in as a staff member of `tenant` with `role`."""

    async def sign_in(role: StaffRole = StaffRole.OWNER, email: str | None = None):
        client = client_for(tenant.host)
        answer = await login(client, email or make_staff(tenant.id, role=role))
        assert answer.status_code == 303, answer.text
        return client

    return sign_in
