"""Writing the first accepted login of a redeemed voucher from a RADIUS worker.

The Access-Accept is sent first; the login is noted in memory and written by a task of the
worker shortly after, one transaction per ISP for all it noted meanwhile
(`vouchers.first_login.start_at_first_login`, which writes each voucher's start once
however many workers and Accounting-Starts report it). A write that fails is tried again a
few times; if the process dies first, the Accounting-Start the router sends next starts the
validity instead, and without one it keeps running from redemption.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from kiunga.platform.db.engine import Database
from kiunga.tenants.vouchers.first_login import start_at_first_login

log = logging.getLogger("kiunga.radius")

ATTEMPTS = 3
RETRY_SECONDS = 1.0
# Logins already noted by this worker (the cache learns of the start by NOTIFY shortly).
NOTED_SIZE = 100_000


class FirstLogins:
    def __init__(self) -> None:
        self._pending: dict[str, dict[int, tuple[datetime, int]]] = {}
        self._noted: set[tuple[str, int]] = set()
        self._wake = asyncio.Event()
        self.written = 0

    def note(self, schema: str, service_id: int) -> None:
        """A login of this service was just accepted (called on the answer path)."""
        key = (schema, service_id)
        if key in self._noted:
            return
        if len(self._noted) >= NOTED_SIZE:
            self._noted.clear()
        self._noted.add(key)
        self._pending.setdefault(schema, {})[service_id] = (datetime.now(UTC), 0)
        self._wake.set()

    async def run(self, database: Database) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self.flush(database):
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def flush(self, database: Database) -> bool:
        """Write what was noted; False when something is left to try again."""
        pending, self._pending = self._pending, {}
        retry = False
        for schema, logins in pending.items():
            try:
                async with database.tenant_session(schema) as session, session.begin():
                    started = await start_at_first_login(
                        session, {service_id: at for service_id, (at, _) in logins.items()}
                    )
                self.written += len(started)
            except Exception:
                log.exception("first logins of %s not written", schema)
                again = {sid: (at, tries + 1) for sid, (at, tries) in logins.items()}
                again = {sid: entry for sid, entry in again.items() if entry[1] < ATTEMPTS}
                if again:
                    retry = True
                    self._pending.setdefault(schema, {}).update(again)
                for service_id in logins.keys() - again.keys():
                    self._noted.discard((schema, service_id))
        return not retry
