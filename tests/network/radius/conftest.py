"""RADIUS tests: the shared RADIUS fixtures (tests/fixtures/radius.py) under this folder's
names, Debian's radclient required, and a job worker running the RADIUS handlers."""

from __future__ import annotations

import pytest
from kiunga.tenants.network.radius import jobs as radius_jobs


@pytest.fixture(autouse=True)
def _needs_radclient(needs_radclient):
    pass


@pytest.fixture
def isp(radius_isp):
    return radius_isp


@pytest.fixture
def other_isp(other_radius_isp):
    return other_radius_isp


@pytest.fixture
async def worker(start_worker):
    """A job worker with the RADIUS handlers and the outbox relay, on a queue of its own."""
    return await start_worker(radius_jobs.register, "radius")
