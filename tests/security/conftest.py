"""Fixtures for the security tests: an ISP with an all-scopes key, the app in-process, and
`kiunga serve` on a free port for probes that go over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
from kiunga.platform.auth.scopes import TENANT_SCOPES
from kiunga.platform.web.app import create_app


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
async def app(settings, database_url, redis_url):
    app = create_app(settings, database_url, redis_url)
    yield app
    await app.services.close()


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
