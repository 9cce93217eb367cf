"""Network fixtures: two ISPs with keys that hold the network scopes, a port where nothing
listens, production settings for a moment, and router bodies for the API. The RouterOS
emulator (`mikrotik`) is shared, from tests/fixtures/provisioning.py."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest
from kiunga.platform.settings import get_settings

from fixtures.provisioning import ROUTER_PASSWORD
from fixtures.web import auth

NETWORK = ("network:read", "network:write")


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
