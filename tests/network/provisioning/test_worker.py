"""Through the worker: the outbox relay hands service events to provisioning's handlers,
which bring the router in line within moments of the commit; and the handlers and the
per-minute job are on the worker's registry."""

from __future__ import annotations

from types import SimpleNamespace

from kiunga.platform.areas import assemble
from kiunga.tenants.network.provisioning import jobs as provisioning_jobs
from kiunga.tenants.network.provisioning.models import CommandStatus
from kiunga.tenants.services.lifecycle import suspend_service

from fixtures.provisioning import PPP_ACTIVE, PPP_SECRET, STAFF
from fixtures.waiting import eventually


def test_the_handlers_and_the_periodic_job_are_registered():
    for topic in provisioning_jobs.SERVICE_TOPICS + ("router.changed",):
        assert any(
            h.name.startswith("network.provision_")
            for h in assemble().job_registry().handlers_for(topic)
        )
    assert "network.provision_routers" in assemble().job_registry().periodics
    assert provisioning_jobs.is_full_sync_minute(None)


async def test_service_events_reach_the_router_through_the_worker(make_isp, mikrotik, worker):
    isp = make_isp()
    await isp.add_router(mikrotik)
    package = await isp.add_package()
    service = await isp.add_service(package, username="via-worker", password="pw-worker-1")

    secret = await eventually(lambda: mikrotik.state.find(PPP_SECRET, name="via-worker"))
    assert secret[0]["disabled"] == "false"
    mikrotik.state.login_ppp("via-worker")
    async with isp.session() as session:
        await suspend_service(session, service, reason="unpaid", actor=STAFF)
    await eventually(
        lambda: (
            mikrotik.state.find(PPP_SECRET, name="via-worker")[0]["disabled"] == "true"
            and not mikrotik.state.find(PPP_ACTIVE, name="via-worker")
        )
    )

    async def all_done():
        commands = await isp.commands()
        return len(commands) == 3 and all(c.status is CommandStatus.DONE for c in commands)

    await eventually(all_done)


async def test_the_periodic_job_runs_the_queues(isp, mikrotik):
    package = await isp.add_package()
    mikrotik.offline()
    await isp.add_service(package, username="minute", password="pw-minute-1")
    await isp.deliver()
    mikrotik.online()
    spec = assemble().job_registry().periodics["network.provision_routers"]
    ctx = SimpleNamespace(database=isp.database, tenant=SimpleNamespace(schema=isp.schema))
    report = await spec.fn(ctx, isp.slug, None)
    assert report["applied"] == 2 and report["unreachable"] == 0  # the service and a sync_all
    assert mikrotik.state.find(PPP_SECRET, name="minute")
