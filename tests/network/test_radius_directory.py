"""The RADIUS server's in-memory directory of NAS clients follows the routers: a change
committed through the API reaches it by NOTIFY within moments, not at the next refresh."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from kiunga.integrations.radius.accounting import BatchingSink
from kiunga.integrations.radius.interfaces import Authorization
from kiunga.integrations.radius.memory import StaticAuthorizer
from kiunga.integrations.radius.server import RadiusServer
from kiunga.tenants.network.directory import RadiusClientDirectory

from .conftest import radius_router


async def eventually(check, seconds: float = 5.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_the_directory_follows_router_changes(api, tenant, database_url):
    before = await api.post("/api/v1/routers", json=radius_router("10.9.7.1"))
    directory = RadiusClientDirectory(database_url, refresh_seconds=3600)
    await directory.start()
    try:
        first = directory.lookup("10.9.7.1")
        assert first is not None and first.secret == b"radius-shared-9931"
        assert first.tenant_key == tenant.schema and first.router_id == str(before.json()["id"])
        assert directory.lookup("::ffff:10.9.7.1") == first  # through a dual-stack socket
        assert directory.lookup("10.9.7.2") is None

        added = await api.post(
            "/api/v1/routers",
            json=radius_router("10.9.7.2", require_message_authenticator=True),
        )
        assert await eventually(lambda: directory.lookup("10.9.7.2"))
        assert directory.lookup("10.9.7.2").require_message_authenticator is True

        path = f"/api/v1/routers/{before.json()['id']}"
        await api.patch(path, json={"radius_secret": "rotated-secret"})
        assert await eventually(
            lambda: getattr(directory.lookup("10.9.7.1"), "secret", None) == b"rotated-secret"
        )
        await api.delete(f"/api/v1/routers/{added.json()['id']}")
        assert await eventually(lambda: directory.lookup("10.9.7.2") is None)
    finally:
        await directory.close()


async def radtest(port: int, secret: str) -> str:
    """A PAP Access-Request from Debian's radclient; waits one second for an answer."""
    process = await asyncio.create_subprocess_exec(
        "radclient", "-x", "-t", "1", "-r", "1", f"127.0.0.1:{port}", "auth", secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate(b"User-Name = wanjiru\nUser-Password = her-pass\n")
    return output.decode(errors="replace")


@pytest.mark.skipif(shutil.which("radclient") is None, reason="freeradius-utils not installed")
async def test_a_nas_is_answered_with_the_secret_its_isp_saved(api, tenant, database_url):
    """End to end: a router saved through the API is a NAS the RADIUS server answers, with
    its saved secret; a new secret takes over at once; a removed router is not answered."""
    router = await api.post(
        "/api/v1/routers", json=radius_router("127.0.0.1", radius_secret="nas-secret-1")
    )
    assert router.status_code == 201, router.text
    directory = RadiusClientDirectory(database_url, refresh_seconds=3600)
    authorizer = StaticAuthorizer()
    authorizer.set(tenant.schema, "wanjiru", Authorization(password=b"her-pass"))
    sink = BatchingSink(lambda batch: asyncio.sleep(0), max_batch=10, max_delay=0.05)
    server = RadiusServer(directory, authorizer, sink, host="127.0.0.1", auth_port=0, acct_port=0)
    await directory.start()
    await sink.start()
    await server.start()
    port = server.auth_address[1]
    try:
        assert "Access-Accept" in await radtest(port, "nas-secret-1")
        path = f"/api/v1/routers/{router.json()['id']}"
        await api.patch(path, json={"radius_secret": "nas-secret-2"})
        assert await eventually(
            lambda: getattr(directory.lookup("127.0.0.1"), "secret", None) == b"nas-secret-2"
        )
        assert "Access-Accept" not in await radtest(port, "nas-secret-1")
        assert "Access-Accept" in await radtest(port, "nas-secret-2")
        await api.delete(path)
        assert await eventually(lambda: directory.lookup("127.0.0.1") is None)
        assert "Access-Accept" not in await radtest(port, "nas-secret-2")
    finally:
        await server.close()
        await sink.close()
        await directory.close()
