"""An emulated router per test, on a free port, and clients that reach it over real TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from kiunga.integrations.routeros.client import RouterOSClient
from kiunga.integrations.routeros.emulator import RouterEmulator

PASSWORD = "s3cret-api"
TENANT = "acme-net"


@pytest.fixture
def router() -> Iterator[RouterEmulator]:
    with RouterEmulator(password=PASSWORD, identity="acme-core") as emulated:
        yield emulated


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., RouterOSClient]]:
    """Makes clients of an emulated router; all are closed after the test."""
    clients: list[RouterOSClient] = []

    def make(emulated: RouterEmulator, *, tenant: str | None = TENANT, **settings: Any):
        made = RouterOSClient(emulated.connection(**settings), tenant=tenant)
        clients.append(made)
        return made

    yield make
    for made in clients:
        await made.close()


@pytest.fixture
async def client(router: RouterEmulator, client_for) -> RouterOSClient:
    return client_for(router)
