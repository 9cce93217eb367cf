"""Resellers fixtures: the web shell's fixtures (app, client_for, make_key, make_staff, login,
csrf_token_in), a tenant, keys with every tenant scope, and a reseller's own key."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
from kiunga.platform.models import StaffRole

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_resellers", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login

EVERYTHING = (
    "subscribers:read", "subscribers:write", "services:read", "services:write",
    "billing:read", "billing:write", "tickets:read", "tickets:write",
)  # fmt: skip


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("resl")


@pytest.fixture
def full_key(make_key, tenant) -> str:
    return make_key(tenant.id, scopes=EVERYTHING)


@pytest.fixture
def reseller_key(engine, settings, tenant):
    def make(reseller_id: int, scopes=EVERYTHING) -> str:
        request = KeyRequest(scopes=scopes, tenant_id=tenant.id, reseller_id=reseller_id)
        return create_api_key_sync(engine, request, secret_key=settings.secret_key).token

    return make


@pytest.fixture
def signed_in(tenant, make_staff, login, client_for):
    async def sign_in(role: StaffRole):
        client = client_for(tenant.host)
        answer = await login(client, make_staff(tenant.id, role=role))
        assert answer.status_code == 303, answer.text
        return client

    return sign_in
