"""Vouchers fixtures: hotspot packages, resellers (agents), keys with the voucher scopes and
a reseller's own key (the tenant, its transactions, agents and signing in are shared)."""

from __future__ import annotations

import itertools

import pytest
from kiunga.tenants.catalog.models import ServiceType, ValidityUnit
from kiunga.tenants.subscribers.models import Reseller

VOUCHER_SCOPES = ("vouchers:read", "vouchers:write", "vouchers:sell", "packages:read")
# What a reseller's key may hold of them: making and revoking batches is ISP-wide.
AGENT_SCOPES = ("vouchers:read", "vouchers:sell", "packages:read")
_numbers = itertools.count(1)


@pytest.fixture
def add_package(add_package):
    """A hotspot package (KES 20 for an hour unless told); returns its id."""

    async def add(**columns) -> int:
        columns.setdefault("name", f"Hotspot {next(_numbers)}")
        columns.setdefault("price", 2_000)
        columns.setdefault("validity_unit", ValidityUnit.HOUR)
        return await add_package(service_type=ServiceType.HOTSPOT, rate_limit="2M/2M", **columns)

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
def reseller_key(make_reseller_key, tenant):
    """An API key confined to one reseller (agent) record."""

    def make(reseller_id: int, scopes=AGENT_SCOPES, tenant_id: int | None = None) -> str:
        return make_reseller_key(tenant_id or tenant.id, reseller_id, scopes)

    return make
