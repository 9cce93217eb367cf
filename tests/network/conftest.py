"""Network fixtures: the web shell's fixtures (app, client_for, make_key, make_staff, login,
csrf_token_in), two ISPs with keys that hold the network scopes, a database handle for the
service functions, and emulated MikroTik routers speaking the RouterOS API."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.worker import Worker
from kiunga.integrations.routeros.emulator import RouterEmulator
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.registry import JobRegistry
from kiunga.platform.jobs.worker import build_worker_settings
from kiunga.platform.models import StaffRole
from kiunga.platform.settings import get_settings

_path = Path(__file__).resolve().parents[1] / "web" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kiunga_tests_web_fixtures_network", _path)
_web = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_web)

app = _web.app
client_for = _web.client_for
base_host = _web.base_host
make_key = _web.make_key
make_staff = _web.make_staff
csrf_token_in = _web.csrf_token_in
login = _web.login

NETWORK = ("network:read", "network:write")
ROUTER_PASSWORD = "Mt-api-pass-4417"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("net")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("net")


@pytest.fixture
def api(client_for, tenant, make_key):
    """A client of the tenant's API with a key holding network:read and network:write."""
    client = client_for(tenant.host)
    client.headers.update(auth(make_key(tenant.id, scopes=NETWORK)))
    return client


@pytest.fixture
def other_api(client_for, other_tenant, make_key):
    client = client_for(other_tenant.host)
    client.headers.update(auth(make_key(other_tenant.id, scopes=NETWORK)))
    return client


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture
def signed_in(tenant, make_staff, login, client_for):
    async def sign_in(role: StaffRole):
        client = client_for(tenant.host)
        answer = await login(client, make_staff(tenant.id, role=role))
        assert answer.status_code == 303, answer.text
        return client

    return sign_in


@pytest.fixture
def mikrotik() -> Iterator[RouterEmulator]:
    """An emulated MikroTik on a free port of 127.0.0.1, with an API user for Kiunga."""
    with RouterEmulator(
        username="kiunga", password=ROUTER_PASSWORD, identity="core-westlands"
    ) as router:
        yield router


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def production(**variables: str) -> Iterator[None]:
    """KIUNGA_ENV=production (and the given KIUNGA_ variables) for a moment; the rest of
    the run stays in test mode."""
    wanted = {"KIUNGA_ENV": "production"}
    wanted.update({f"KIUNGA_{name.upper()}": value for name, value in variables.items()})
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def api_router(port: int, **overrides) -> dict:
    body = {
        "name": "Core Westlands",
        "address": "127.0.0.1",
        "api_port": port,
        "mode": "api",
        "api_username": "kiunga",
        "api_password": ROUTER_PASSWORD,
    }
    body.update(overrides)
    return body


def radius_router(address: str, **overrides) -> dict:
    body = {
        "name": f"NAS {address}",
        "address": address,
        "mode": "radius",
        "radius_secret": "radius-shared-9931",
    }
    body.update(overrides)
    return body


@pytest.fixture
def unit_of_work(database):
    """`async with unit_of_work(schema) as session:` one committed tenant transaction."""

    @contextlib.asynccontextmanager
    async def open_(schema: str):
        async with database.tenant_session(schema) as session, session.begin():
            yield session

    return open_


@pytest.fixture
async def start_worker(database_url, redis_url, settings_env):
    """`await start_worker(register, name)`: a job worker with the handlers `register` adds
    and the outbox relay, on a queue of its own; stopped after the test."""
    started: list[tuple[Worker, asyncio.Task]] = []

    async def start(register, name: str) -> Worker:
        registry = JobRegistry()
        register(registry)
        settings = build_worker_settings(
            database_url,
            redis_url,
            queue_name=f"kiunga:test:{name}:{uuid.uuid4().hex[:8]}",
            registry=registry,
            relay=True,
            sweep_interval=0.5,
            poll_delay=0.05,
        )
        running = Worker(**settings, handle_signals=False)
        main = asyncio.create_task(running.async_run())
        started.append((running, main))
        deadline = time.monotonic() + 15
        while "kiunga_database" not in running.ctx and not main.done():
            assert time.monotonic() < deadline, "the worker did not start"
            await asyncio.sleep(0.05)
        return running

    yield start
    for running, main in started:
        # A job still running when the worker closes is cancelled, and arq lets that
        # CancelledError out of close(); let jobs finish first (bounded), and never let a
        # late cancellation escape the teardown (the fixtures after it would not run).
        deadline = time.monotonic() + 15
        while any(not task.done() for task in running.tasks.values()):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        with contextlib.suppress(asyncio.CancelledError):
            await running.close()
        with contextlib.suppress(asyncio.CancelledError):
            await main
