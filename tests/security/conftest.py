"""Security fixtures: the web shell's fixtures (app, client_for, make_key, make_staff, login,
csrf_token_in), a tenant's reseller records, keys confined to one of them, and agents; an
ISP with an all-scopes key, and `kiunga serve` on a free port for probes over real HTTP."""

from __future__ import annotations

import importlib.util
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from kiunga.platform.areas import assemble
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync, hash_secret
from kiunga.platform.auth.passwords import hash_password
from kiunga.platform.models import ApiKey, StaffAccount, StaffRole, TenantMembership
from kiunga.tenants.subscribers.models import Reseller
from sqlalchemy.orm import Session

# The assembled areas' scope table, as the app and the worker install it.
_SCOPES = assemble().scopes
TENANT_SCOPES = _SCOPES.tenant

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_security", _path)
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

_numbers = itertools.count(1)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
def make_reseller_key(engine, settings):
    """A key confined to a reseller, made through the same checks as every key."""

    def make(tenant_id: int, reseller_id: int, scopes) -> str:
        request = KeyRequest(scopes=scopes, tenant_id=tenant_id, reseller_id=reseller_id)
        return create_api_key_sync(engine, request, secret_key=settings.secret_key).token

    return make


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


@dataclass(frozen=True)
class KeyedTenant:
    id: int
    host: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.host, "Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="session")
def keyed_tenant(engine, settings) -> KeyedTenant:
    """An ISP of its own and a key holding every tenant scope."""
    from kiunga.platform.tenant_admin import create_tenant

    slug = f"sec-{os.getpid()}"
    created = create_tenant(
        engine,
        slug=slug,
        name=f"ISP {slug}",
        owner_email=f"owner@{slug}.example",
        owner_password="correct horse battery",
        base_domain=settings.base_domain,
    )
    request = KeyRequest(scopes=sorted(TENANT_SCOPES), tenant_id=created.id)
    key = create_api_key_sync(engine, request, secret_key=settings.secret_key).token
    return KeyedTenant(id=created.id, host=created.host, key=key)


@pytest.fixture(scope="session")
def mint_key(engine, settings, keyed_tenant):
    """A fresh all-scopes key of the ISP (an operation under test may revoke its key)."""

    def mint() -> str:
        request = KeyRequest(scopes=sorted(TENANT_SCOPES), tenant_id=keyed_tenant.id)
        return create_api_key_sync(engine, request, secret_key=settings.secret_key).token

    return mint


@pytest.fixture
async def api(app, keyed_tenant):
    """An httpx client speaking to the in-process app as the ISP's all-scopes key."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://{keyed_tenant.host}", headers=keyed_tenant.headers
    ) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def kiunga_serve(settings_env, *options: str) -> Iterator[str]:
    """`kiunga serve` on a free port with these options; yields its base URL."""
    port = _free_port()
    kiunga = Path(sys.executable).with_name("kiunga")
    env = {**os.environ, **settings_env, "KIUNGA_PORT": str(port), "KIUNGA_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [str(kiunga), "serve", "--host", "127.0.0.1", *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "kiunga serve did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def served_app(settings_env):
    """`kiunga serve` for the whole run; yields its base URL."""
    with kiunga_serve(settings_env) as base:
        yield base
