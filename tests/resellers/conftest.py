"""Resellers fixtures: keys with every tenant scope, and a reseller's own key (the tenant,
agents and signing in are shared)."""

from __future__ import annotations

import pytest

EVERYTHING = (
    "subscribers:read", "subscribers:write", "services:read", "services:write",
    "billing:read", "billing:write", "tickets:read", "tickets:write",
)  # fmt: skip


@pytest.fixture
def full_key(make_key, tenant) -> str:
    return make_key(tenant.id, scopes=EVERYTHING)


@pytest.fixture
def reseller_key(make_reseller_key, tenant):
    def make(reseller_id: int, scopes=EVERYTHING) -> str:
        return make_reseller_key(tenant.id, reseller_id, scopes)

    return make
