"""Provisioning over api-ssl: the first run pins the router's certificate, and a router
presenting another one gets nothing (not even the login); its commands wait, in order,
saying why, until staff trust the new certificate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.provisioning.models import CommandStatus
from kiunga.tenants.network.provisioning.runner import run_queues
from kiunga.tenants.network.service import create_router, trust_certificate

from fixtures.provisioning import PPP_SECRET, ROUTER_PASSWORD, ROUTER_USER


@pytest.fixture
def mikrotik_tls() -> Iterator[RouterEmulator]:
    with RouterEmulator(username=ROUTER_USER, password=ROUTER_PASSWORD, tls=True) as router:
        yield router


async def test_provisioning_pins_the_certificate_and_stops_at_another(make_isp, mikrotik_tls):
    isp = make_isp()
    async with isp.session() as session:
        router = await create_router(
            session,
            isp.tenant.id,
            name="POP TLS",
            address="127.0.0.1",
            api_port=mikrotik_tls.port,
            use_tls=True,
            mode="api",
            api_username=ROUTER_USER,
            api_password=ROUTER_PASSWORD,
        )
        isp.router_id = router.id
    await isp.deliver()
    async with isp.session() as session:
        pinned = await session.get(Router, isp.router_id)
    assert pinned.tls_fingerprint == mikrotik_tls.certificate_fingerprint
    assert mikrotik_tls.state.login_attempts  # the first run logged in

    mikrotik_tls.replace_certificate()
    logins = list(mikrotik_tls.state.login_attempts)
    package = await isp.add_package()
    await isp.add_service(package, username="tls-one", password="pw-tls-one-1")
    await isp.deliver()
    report = await run_queues(isp.database, isp.schema, isp.slug)
    assert report["unreachable"] == 1 and report["applied"] == 0
    assert mikrotik_tls.state.login_attempts == logins
    waiting = [c for c in await isp.commands() if c.status is CommandStatus.PENDING]
    assert waiting and all(c.last_error.startswith("Refused") for c in waiting)
    assert all(c.attempts == 0 for c in waiting)
    assert mikrotik_tls.state.rows(PPP_SECRET) == []

    async with isp.session() as session:
        refused = await session.get(Router, isp.router_id)
        assert refused.tls_fingerprint == pinned.tls_fingerprint
        assert refused.tls_refused_fingerprint == mikrotik_tls.certificate_fingerprint
        await trust_certificate(session, isp.router_id, mikrotik_tls.certificate_fingerprint)
    report = await run_queues(isp.database, isp.schema, isp.slug)
    assert report["unreachable"] == 0 and report["applied"] == len(waiting)
    assert [row["name"] for row in mikrotik_tls.state.rows(PPP_SECRET)] == ["tls-one"]
