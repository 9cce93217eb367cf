"""The RADIUS server's `ClientDirectory`, kept in memory and fresh from the database.

Lookups are on the server's hot path, so they read a dict and never wait. The dict is
rebuilt (and swapped in whole) when a router's RADIUS routing changes — the service sends a
NOTIFY on `kiunga_radius_clients` in the changing transaction, delivered when it commits —
and every `refresh_seconds` in any case, which also covers an ISP disabled or a
notification missed while the listener was reconnecting. A failed reload keeps the
directory as it was.

The database is opened in `start()`, inside the event loop (and, with several RADIUS
workers, the process) that serves packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kiunga.integrations.radius.interfaces import RadiusClient
from kiunga.platform.db.engine import Database
from kiunga.platform.db.listen import listen_forever
from kiunga.tenants.network.radius_clients import load_client_directory
from kiunga.tenants.network.service import RADIUS_NOTIFY_CHANNEL

log = logging.getLogger("kiunga.network")

REFRESH_SECONDS = 60.0
_MAPPED_V4 = "::ffff:"


class RadiusClientDirectory:
    def __init__(self, database_url: str, *, refresh_seconds: float = REFRESH_SECONDS):
        self.database_url = database_url
        self.refresh_seconds = refresh_seconds
        self.clients: dict[str, RadiusClient] = {}
        self.loaded = 0  # how many times the directory was (re)built
        self._database: Database | None = None
        self._changed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    def lookup(self, source_ip: str) -> RadiusClient | None:
        client = self.clients.get(source_ip)
        if client is None and source_ip.startswith(_MAPPED_V4):
            # An IPv4 NAS seen through a dual-stack socket.
            client = self.clients.get(source_ip.removeprefix(_MAPPED_V4))
        return client

    async def start(self) -> None:
        self._database = Database(self.database_url, pool_size=2)
        self._changed = asyncio.Event()
        await self.reload()
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="radius-clients-listen"),
            asyncio.create_task(self._refresh_forever(), name="radius-clients-refresh"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def reload(self) -> None:
        if self._database is None:
            raise RuntimeError("start() the directory first")
        self.clients = await load_client_directory(self._database)
        self.loaded += 1

    async def _refresh_forever(self) -> None:
        assert self._changed is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.refresh_seconds)
            self._changed.clear()
            try:
                await self.reload()
            except Exception:
                log.exception("RADIUS client directory not reloaded; keeping the last one")

    async def _listen_forever(self) -> None:
        assert self._changed is not None
        changed = self._changed
        await listen_forever(
            self.database_url,
            RADIUS_NOTIFY_CHANNEL,
            on_notify=lambda _: changed.set(),
            # Whatever changed while nobody listened was not notified: reload once.
            on_listen=changed.set,
            what="RADIUS client directory",
        )
