"""The RADIUS server's in-memory directory of NAS clients follows the routers: a change
committed through the API reaches it by NOTIFY within moments, not at the next refresh."""

from __future__ import annotations

import asyncio

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
