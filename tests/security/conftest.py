"""Security fixtures: a tenant's reseller records and keys made before the reseller fence;
an ISP with an all-scopes key (the web shell, agents, reseller keys and `kiunga serve` are
shared, from tests/fixtures)."""

from __future__ import annotations

import itertools

import httpx
import pytest
from kiunga.platform.auth.api_keys import hash_secret
from kiunga.platform.models import ApiKey
from kiunga.tenants.subscribers.models import Reseller
from sqlalchemy.orm import Session

_numbers = itertools.count(1)


@pytest.fixture
def add_reseller(engine):
    """A reseller record in `tenant`'s schema; returns its id."""

    def add(tenant, name: str | None = None) -> int:
        mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
        with Session(mapped) as session, session.begin():
            reseller = Reseller(name=name or f"Reseller {next(_numbers)}", phone=None)
            session.add(reseller)
            session.flush()
            return reseller.id

    return add


@pytest.fixture
def make_legacy_reseller_key(engine, settings):
    """A reseller's key written straight into the table with every scope, as keys were made
    before reseller keys were refused ISP-wide scopes: only the fence stands in its way."""

    def make(tenant_id: int, reseller_id: int, scopes) -> str:
        prefix = f"{next(_numbers):08x}"[-8:]
        secret = "legacy-reseller-key-secret-" + prefix
        with Session(engine) as session, session.begin():
            session.add(
                ApiKey(
                    prefix=prefix,
                    secret_hash=hash_secret(settings.secret_key, prefix, secret),
                    name="made before the fence",
                    scopes=sorted(scopes),
                    tenant_id=tenant_id,
                    reseller_id=reseller_id,
                )
            )
        return f"kg_{prefix}_{secret}"

    return make


@pytest.fixture
async def api(app, keyed_tenant):
    """An httpx client speaking to the in-process app as the ISP's all-scopes key."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://{keyed_tenant.host}", headers=keyed_tenant.headers
    ) as client:
        yield client
