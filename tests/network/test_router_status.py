"""Asking a router how it is, over the RouterOS API against the emulator: "test connection"
stores identity, version, uptime, CPU and memory; wrong credentials and an unreachable
router are told apart and recorded as the last error; the periodic poll asks every
api-mode router."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from kiunga.platform.areas import assemble
from kiunga.tenants.network import jobs as network_jobs
from kiunga.tenants.network.status import poll_routers, uptime_seconds

from .conftest import api_router, radius_router
from fixtures.provisioning import ROUTER_PASSWORD


async def test_test_connection_reads_and_keeps_the_routers_status(api, mikrotik):
    mikrotik.state.resource.update({"cpu-load": "17", "free-memory": "300000000"})
    router = (await api.post("/api/v1/routers", json=api_router(mikrotik.port))).json()
    checked = await api.post(f"/api/v1/routers/{router['id']}/test-connection")
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["ok"] is True and "core-westlands" in body["message"]
    status = body["router"]
    assert status["online"] is True and status["identity"] == "core-westlands"
    assert status["routeros_version"] == "7.18.2 (stable)"
    assert status["cpu_load"] == 17
    assert (status["free_memory"], status["total_memory"]) == (300_000_000, 1_073_741_824)
    assert status["uptime_seconds"] is not None and status["uptime_seconds"] >= 0
    seen = datetime.fromisoformat(status["last_seen_at"])
    assert seen.tzinfo is not None and abs((datetime.now(UTC) - seen).total_seconds()) < 60
    assert status["last_error"] is None
    stored = (await api.get(f"/api/v1/routers/{router['id']}")).json()
    assert stored["identity"] == "core-westlands" and stored["online"] is True
    assert ROUTER_PASSWORD not in checked.text


async def test_wrong_credentials_are_told_apart_and_recorded(api, mikrotik):
    router = (
        await api.post("/api/v1/routers", json=api_router(mikrotik.port, api_password="wrong"))
    ).json()
    checked = (await api.post(f"/api/v1/routers/{router['id']}/test-connection")).json()
    assert checked["ok"] is False
    assert checked["message"].startswith("Wrong credentials"), checked["message"]
    assert checked["router"]["last_error"] == checked["message"]
    assert checked["router"]["last_error_at"] is not None and not checked["router"]["online"]

    # Fixed: the router answers, and is online again though the old error is kept.
    await api.patch(f"/api/v1/routers/{router['id']}", json={"api_password": ROUTER_PASSWORD})
    fixed = (await api.post(f"/api/v1/routers/{router['id']}/test-connection")).json()
    assert fixed["ok"] is True and fixed["router"]["online"] is True


async def test_an_unreachable_router_is_recorded_as_its_last_error(api, closed_port, mikrotik):
    router = (await api.post("/api/v1/routers", json=api_router(closed_port))).json()
    checked = await api.post(f"/api/v1/routers/{router['id']}/test-connection")
    assert checked.status_code == 200
    body = checked.json()
    assert body["ok"] is False and body["message"].startswith("Unreachable"), body["message"]
    assert f"127.0.0.1:{closed_port}" in body["message"]
    stored = (await api.get(f"/api/v1/routers/{router['id']}")).json()
    assert stored["last_error"] == body["message"] and stored["last_error_at"]
    assert stored["online"] is False and stored["last_seen_at"] is None

    # A router that was seen and then went away is no longer online.
    path = f"/api/v1/routers/{router['id']}"
    await api.patch(path, json={"api_port": mikrotik.port})
    assert (await api.post(f"{path}/test-connection")).json()["ok"] is True
    mikrotik.offline()
    gone = (await api.post(f"{path}/test-connection")).json()
    assert gone["ok"] is False and gone["router"]["online"] is False
    assert gone["router"]["identity"] == "core-westlands"  # what it last said is kept


async def test_a_router_without_api_credentials_cannot_be_tested(api):
    router = (await api.post("/api/v1/routers", json=radius_router("10.9.3.1"))).json()
    answer = await api.post(f"/api/v1/routers/{router['id']}/test-connection")
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "api_username"
    assert (await api.post("/api/v1/routers/999999/test-connection")).status_code == 404


@pytest.fixture
def mikrotik_tls():
    with RouterEmulator(
        username="kiunga", password=ROUTER_PASSWORD, identity="edge-tls", tls=True
    ) as router:
        yield router


async def test_test_connection_over_api_ssl(api, mikrotik_tls):
    made = await api.post(
        "/api/v1/routers", json=api_router(mikrotik_tls.port, use_tls=True, name="Edge TLS")
    )
    assert made.json()["use_tls"] is True and made.json()["api_port"] == mikrotik_tls.port
    checked = (await api.post(f"/api/v1/routers/{made.json()['id']}/test-connection")).json()
    assert checked["ok"] is True and checked["router"]["identity"] == "edge-tls"


async def test_the_poll_asks_every_api_mode_router(api, tenant, database, mikrotik, closed_port):
    up = (await api.post("/api/v1/routers", json=api_router(mikrotik.port, name="Up"))).json()
    down = (await api.post("/api/v1/routers", json=api_router(closed_port, name="Down"))).json()
    nas = (await api.post("/api/v1/routers", json=radius_router("10.9.4.1"))).json()

    report = await poll_routers(database, tenant.schema)
    assert report == {"answered": 1, "unreachable": 1}
    routers = {r["id"]: r for r in (await api.get("/api/v1/routers")).json()}
    assert routers[up["id"]]["online"] and routers[up["id"]]["identity"] == "core-westlands"
    assert routers[down["id"]]["last_error"].startswith("Unreachable")
    assert routers[nas["id"]]["last_seen_at"] is None and routers[nas["id"]]["last_error"] is None

    # The same through the periodic job, as the worker runs it for each active ISP.
    assert (
        assemble().job_registry().periodics["network.poll_routers"]
        is network_jobs.network_poll_routers
    )
    mikrotik.state.identity = "renamed-core"
    ctx = SimpleNamespace(database=database, tenant=SimpleNamespace(schema=tenant.schema))
    assert await network_jobs.network_poll_routers.fn(ctx, tenant.slug, None) == report
    assert (await api.get(f"/api/v1/routers/{up['id']}")).json()["identity"] == "renamed-core"


def test_routeros_uptime_in_seconds():
    assert uptime_seconds("1w2d3h4m5s") == 9 * 86400 + 3 * 3600 + 4 * 60 + 5
    assert uptime_seconds("45s") == 45
    assert uptime_seconds("2d04:05:06") == 2 * 86400 + 4 * 3600 + 5 * 60 + 6
    assert uptime_seconds("") is None and uptime_seconds("soon") is None
