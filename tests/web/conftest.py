"""Fixtures for the web shell: an app on the run's database and Redis, clients that speak
to it as a given host, and helpers for keys, staff and CSRF tokens."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
from kiunga.platform.auth.passwords import hash_password
from kiunga.platform.models import StaffAccount, StaffRole, TenantMembership
from kiunga.platform.web.app import create_app
from sqlalchemy.orm import Session

PASSWORD = "correct horse battery"
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
async def app(settings, database_url, redis_url):
    """A fresh app per test: its caches and login throttle start empty."""
    app = create_app(settings, database_url, redis_url)
    yield app
    await app.services.close()


@pytest.fixture
async def client_for(app):
    clients: list[httpx.AsyncClient] = []

    def make(host: str, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{host}")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def base_host(settings) -> str:
    return settings.base_domain


@pytest.fixture
def make_key(engine, settings):
    def make(
        tenant_id: int | None,
        scopes=("sites:read", "sites:write"),
        expires_at: datetime | None = None,
    ) -> str:
        request = KeyRequest(scopes=scopes, tenant_id=tenant_id, expires_at=expires_at)
        return create_api_key_sync(engine, request, secret_key=settings.secret_key).token

    return make


@pytest.fixture
def make_staff(engine):
    """A staff account, optionally a member of a tenant or a platform admin."""
    counter = iter(range(1, 10_000))

    def make(
        tenant_id: int | None = None,
        role: StaffRole = StaffRole.SUPPORT,
        platform_admin: bool = False,
    ) -> str:
        email = f"staff{next(counter)}-{datetime.now().timestamp()}@example.test"
        with Session(engine) as session, session.begin():
            staff = StaffAccount(
                email=email,
                name="Wanjiku",
                password_hash=hash_password(PASSWORD),
                is_platform_admin=platform_admin,
            )
            session.add(staff)
            session.flush()
            if tenant_id is not None:
                session.add(TenantMembership(staff_id=staff.id, tenant_id=tenant_id, role=role))
        return email

    return make


def _csrf_token_in(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


@pytest.fixture
def csrf_token_in():
    """The CSRF token of a page's forms."""
    return _csrf_token_in


@pytest.fixture
def login():
    """Sign in through the real form (GET for the token, POST with it)."""

    async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD):
        page = await client.get("/login")
        assert page.status_code == 200, page.text
        return await client.post(
            "/login",
            data={"email": email, "password": password, "_csrf_token": _csrf_token_in(page.text)},
        )

    return sign_in
