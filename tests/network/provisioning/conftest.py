"""Provisioning tests: the shared provisioning fixtures (tests/fixtures/provisioning.py)
under this folder's names, and a job worker running provisioning's handlers."""

from __future__ import annotations

import pytest
from kiunga.tenants.network.provisioning import jobs as provisioning_jobs

from fixtures.provisioning import Isp


@pytest.fixture
def make_isp(make_provisioned_isp):
    return make_provisioned_isp


@pytest.fixture
async def isp(make_isp, mikrotik) -> Isp:
    """An ISP with one api-mode router (no site: it serves the whole ISP) on the emulator."""
    isp = make_isp()
    await isp.add_router(mikrotik)
    await isp.deliver()
    return isp


@pytest.fixture
async def worker(start_worker):
    """A job worker with provisioning's handlers and the outbox relay, on a queue of its own."""
    return await start_worker(provisioning_jobs.register, "provisioning")
