"""The RADIUS server's `Authorizer`: every ISP's services in memory, kept fresh.

An Access-Request is answered from a dict (tenant schema → username → `Subscriber`) and the
clock; it never waits on the database. The dict follows the database this way:

- triggers on `services` (any insert, update or delete, by any code path) and `packages`
  send a NOTIFY on `kiunga_radius_users` in the changing transaction, delivered when it
  commits; the accounting writer does the same for services whose usage it changed;
- the process LISTENs and reloads just those services (or the whole ISP when a statement
  touched many rows or a package changed);
- every `reload_seconds` every active ISP is reloaded in full (new and disabled ISPs, and
  anything missed while the listener was reconnecting; a reconnect also reloads at once);
- the accounting writer NOTIFYs the hotspot services whose sessions it wrote, so their
  open sessions (what a package's shared_users is counted against) are read again.

Staleness bound: a committed change answers the next Access-Request once its NOTIFY has
arrived and the few rows are read again (milliseconds on one network); if notifications are
lost, at worst after `reload_seconds` (KIUNGA_RADIUS_RELOAD_SECONDS, 300 by default).
All loads run one after the other in one task, so an older read never overwrites a newer one.

A login created moments ago can be asked for before its NOTIFY arrived (a hotspot logs a
phone in within milliseconds of the voucher's redemption): a name the cache does not know
is then looked up once in the database among services created lately (see `_unknown`).
A redeemed voucher's first accepted login is noted and written by the worker
(`first_logins`), which starts the voucher's validity.

A user is looked up only in the ISP the NAS belongs to (the client's tenant key is the ISP's
schema name), in the cache and in the database alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import replace

from kiunga.integrations.radius.interfaces import (
    Authorization,
    RadiusClient,
    Rejection,
    RejectReason,
)
from kiunga.platform.db.engine import Database
from kiunga.platform.db.listen import listen_forever
from kiunga.platform.db.naming import validate_schema
from kiunga.platform.models import Tenant, TenantStatus
from kiunga.tenants.network.radius.first_logins import FirstLogins
from kiunga.tenants.network.radius.subscribers import (
    Subscriber,
    admit_device,
    decide,
    load_recent_login,
    load_subscribers,
)
from kiunga.tenants.services.service import USERNAME
from sqlalchemy import select

log = logging.getLogger("kiunga.radius")

USERS_CHANNEL = "kiunga_radius_users"
USAGE_PREFIX = "usage:"
RELOAD_SECONDS = 300.0
MEMO_SIZE = 100_000
FIRST_LISTEN_WAIT = 10.0
# Without an interim interval configured, sessions are taken for lost after this long.
DEFAULT_STALE_SECONDS = 600.0
# A login the cache does not know is looked up in the database when its service was created
# within the last full reload interval and this margin (older ones a reload would have
# brought); a name found absent is not looked up again for a few seconds.
RECENT_MARGIN = 60.0
ABSENT_SECONDS = 5.0
ABSENT_SIZE = 10_000
LOOKUP_CONCURRENCY = 2
LOOKUPS_WAITING = 64
LOOKUP_TIMEOUT = 2.0
CLOSE_WAIT = 5.0
_UNKNOWN = Rejection(RejectReason.UNKNOWN_USER)
_WHOLE = None  # a pending reload of a whole ISP


class TenantAuthorizer:
    def __init__(
        self,
        database_url: str,
        *,
        reload_seconds: float = RELOAD_SECONDS,
        interim_interval: int | None = None,
    ) -> None:
        self.database_url = database_url
        self.reload_seconds = reload_seconds
        self.interim_interval = interim_interval
        self.stale_seconds = 2.0 * interim_interval if interim_interval else DEFAULT_STALE_SECONDS
        self.users: dict[str, dict[str, Subscriber]] = {}
        self._by_id: dict[str, dict[int, str]] = {}
        # Per ISP: encrypted password → clear text, so reloads decrypt only what changed.
        self._passwords: dict[str, dict[str, bytes | None]] = {}
        # By the cached entry itself (a reload makes new entries, so old decisions lapse).
        self._decided: dict[Subscriber, tuple[int, Authorization | Rejection]] = {}
        self.full_loads = 0
        self.partial_loads = 0
        self._database: Database | None = None
        self._pending: dict[str, set[int] | None] = {}
        self._everything = False
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._listening: asyncio.Event | None = None
        self._absent: dict[tuple[str, str], float] = {}
        self._lookups: dict[tuple[str, str], asyncio.Future] = {}
        self._lookup_tasks: set[asyncio.Task] = set()
        self._lookup_slots = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        self.database_lookups = 0
        self.first_logins = FirstLogins()

    # --- the hot path -------------------------------------------------------------------

    def authorize(
        self, client: RadiusClient, username: str, calling_station_id: str | None = None
    ) -> Authorization | Rejection | asyncio.Future:
        users = self.users.get(client.tenant_key)
        # Usernames are unique within an ISP regardless of case (as the services module
        # enforces), so the login is matched the same way.
        name = username.lower()
        subscriber = users.get(name) if users is not None else None
        if subscriber is None:
            return self._unknown(client.tenant_key, name, calling_station_id)
        return self._authorize(client.tenant_key, subscriber, calling_station_id)

    def _authorize(
        self, schema: str, subscriber: Subscriber, calling_station_id: str | None
    ) -> Authorization | Rejection:
        # A decision (and its encoded reply) is reused within the same second: only the
        # Session-Timeout moves with the clock, by whole seconds.
        now = time.time()
        second = int(now)
        memo = self._decided.get(subscriber)
        if memo is not None and memo[0] == second:
            decision = memo[1]
        else:
            decision = self._decide(schema, subscriber, now, second)
        if (
            subscriber.mac_address is not None or subscriber.shared_users is not None
        ) and isinstance(decision, Authorization):
            refusal = admit_device(
                subscriber,
                calling_station_id,
                now,
                stale_seconds=self.stale_seconds,
                password=decision.password,
            )
            if refusal is not None:
                return refusal
        return decision

    def _decide(self, schema: str, subscriber: Subscriber, now: float, second: int):
        try:
            decision = decide(subscriber, now, interim_interval=self.interim_interval)
        except ValueError:  # a value the wire cannot carry: refuse, and say so in the log
            log.exception("service %s cannot be authorized", subscriber.service_id)
            decision = Rejection(RejectReason.NOT_ALLOWED, "Service settings cannot be sent")
        if subscriber.first_login_validity is not None and isinstance(decision, Authorization):
            # A voucher's validity starts at its first accepted login: note it once sent.
            note = functools.partial(self.first_logins.note, schema, subscriber.service_id)
            decision = replace(decision, on_accept=note)
        if len(self._decided) > MEMO_SIZE:
            self._decided.clear()
        self._decided[subscriber] = (second, decision)
        return decision

    # --- logins the cache has not heard of yet ------------------------------------------

    def _unknown(
        self, schema: str, name: str, calling_station_id: str | None
    ) -> Rejection | asyncio.Future:
        """A login created moments ago may not have reached the cache yet (its NOTIFY is
        on the way, or was lost): such a name is looked up once in the database, off the
        answer path. Only names a service could have are looked up, a name found absent is
        remembered for `ABSENT_SECONDS`, at most `LOOKUP_CONCURRENCY` lookups run at once
        and at most `LOOKUPS_WAITING` names wait: a flood of made-up names costs the
        database little and is refused from memory."""
        if self._database is None or not USERNAME.match(name):
            return _UNKNOWN
        key = (schema, name)
        absent_until = self._absent.get(key)
        if absent_until is not None:
            if absent_until > time.monotonic():
                return _UNKNOWN
            del self._absent[key]
        found = self._lookups.get(key)
        if found is None:
            if len(self._lookups) >= LOOKUPS_WAITING:
                return _UNKNOWN
            found = self._lookups[key] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._look_up(schema, name, found))
            self._lookup_tasks.add(task)
            task.add_done_callback(self._lookup_tasks.discard)
        decision = asyncio.get_running_loop().create_future()

        def decided(found: asyncio.Future) -> None:
            if decision.done():
                return
            subscriber = found.result()
            if subscriber is None:
                decision.set_result(_UNKNOWN)
            else:
                decision.set_result(self._authorize(schema, subscriber, calling_station_id))

        found.add_done_callback(decided)
        return decision

    async def _look_up(self, schema: str, name: str, found: asyncio.Future) -> None:
        subscriber = None
        try:
            async with self._lookup_slots:
                self.database_lookups += 1
                async with asyncio.timeout(LOOKUP_TIMEOUT):
                    async with self._database.tenant_session(schema) as session:
                        subscriber = await load_recent_login(
                            session,
                            name,
                            within_seconds=self.reload_seconds + RECENT_MARGIN,
                            passwords=self._passwords.setdefault(schema, {}),
                        )
            if subscriber is None:
                self._remember_absent((schema, name))
            else:
                self._learn(schema, subscriber)
        except Exception:
            log.warning("login %r of %s not looked up", name, schema, exc_info=True)
        finally:
            del self._lookups[(schema, name)]
            found.set_result(subscriber)

    def _remember_absent(self, key: tuple[str, str]) -> None:
        while len(self._absent) >= ABSENT_SIZE:  # the oldest go first
            del self._absent[next(iter(self._absent))]
        self._absent[key] = time.monotonic() + ABSENT_SECONDS

    def _learn(self, schema: str, subscriber: Subscriber) -> None:
        """Into the cache unless a load got there first; and read again by the loading
        task, so that whatever changed since this read wins."""
        name = subscriber.username.lower()
        users = self.users.setdefault(schema, {})
        if name not in users:
            users[name] = subscriber
            self._by_id.setdefault(schema, {})[subscriber.service_id] = name
        self.notified(f"{schema}:{subscriber.service_id}")

    # --- keeping fresh ------------------------------------------------------------------

    async def start(self) -> None:
        self._database = Database(self.database_url, pool_size=3)
        self._wake = asyncio.Event()
        self._listening = asyncio.Event()
        # Listen before the first load, so that nothing committed meanwhile is missed.
        self._tasks = [asyncio.create_task(self._listen_forever(), name="radius-users-listen")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), FIRST_LISTEN_WAIT)
        await self._load_everything()
        self._everything = False
        self._tasks += [
            asyncio.create_task(self._apply_forever(), name="radius-users-apply"),
            asyncio.create_task(self._refresh_forever(), name="radius-users-refresh"),
            asyncio.create_task(self.first_logins.run(self._database), name="radius-first-logins"),
        ]

    async def wait_listening(self, within: float = 10.0) -> None:
        """Until the LISTEN is in place (tests: changes after this are notified)."""
        assert self._listening is not None
        await asyncio.wait_for(self._listening.wait(), within)

    async def close(self) -> None:
        if self._database is not None:
            with contextlib.suppress(Exception):  # logged; Accounting-Start may still tell
                await asyncio.wait_for(self.first_logins.flush(self._database), CLOSE_WAIT)
        for task in [*self._tasks, *self._lookup_tasks]:
            task.cancel()
        for task in [*self._tasks, *self._lookup_tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    def notified(self, payload: str) -> None:
        """`schema` (reload the ISP), `schema:id,id,…` (reload those services) or
        `schema:usage:id@period=used,…` (the accounting writer's new period usage)."""
        schema, _, ids = payload.partition(":")
        try:
            validate_schema(schema)
        except ValueError:
            return
        if ids.startswith(USAGE_PREFIX):
            self._apply_usage(schema, ids.removeprefix(USAGE_PREFIX))
            return
        if not ids:
            self._pending[schema] = _WHOLE
        elif schema not in self._pending or self._pending[schema] is not _WHOLE:
            wanted = self._pending.setdefault(schema, set())
            wanted.update(int(part) for part in ids.split(",") if part.isdigit())
        if self._wake is not None:
            self._wake.set()

    def _apply_usage(self, schema: str, entries: str) -> None:
        """Usage changes often (every Interim-Update) and only moves data left: it is set on
        the cached entries at once, without reading the services again."""
        users, by_id = self.users.get(schema), self._by_id.get(schema)
        if not users or not by_id:
            return
        for entry in entries.split(","):
            try:
                key, used_text = entry.split("=")
                id_text, period_text = key.split("@")
                service_id, period, used = int(id_text), float(period_text), int(used_text)
            except ValueError:
                continue
            name = by_id.get(service_id)
            current = users.get(name) if name is not None else None
            if current is None or current.service_id != service_id:
                continue
            # Another period's news, or older than what is cached: a reload will tell.
            if current.period_start != period or current.used_bytes >= used:
                continue
            users[name] = replace(current, used_bytes=used)

    def reload_everything_soon(self) -> None:
        self._everything = True
        if self._wake is not None:
            self._wake.set()

    async def _apply_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            everything, self._everything = self._everything, False
            pending, self._pending = self._pending, {}
            try:
                if everything:
                    await self._load_everything()
                else:
                    for schema, ids in pending.items():
                        await self._load_tenant(schema, ids)
            except Exception:
                log.exception("RADIUS subscriber cache not reloaded; trying again in full")
                self._everything = True
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            self.reload_everything_soon()

    async def _load_everything(self) -> None:
        assert self._database is not None
        async with self._database.platform_session() as session:
            schemas = list(
                await session.scalars(
                    select(Tenant.schema_name).where(Tenant.status == TenantStatus.ACTIVE)
                )
            )
        for schema in schemas:
            await self._load_tenant(schema, _WHOLE)
        for gone in set(self.users) - set(schemas):
            del self.users[gone]
            self._by_id.pop(gone, None)
            self._passwords.pop(gone, None)
        self.full_loads += 1

    async def _load_tenant(self, schema: str, ids: set[int] | None) -> None:
        assert self._database is not None
        passwords = self._passwords.setdefault(schema, {})
        async with self._database.tenant_session(schema) as session:
            found = await load_subscribers(session, ids, passwords=passwords)
        if ids is _WHOLE:
            self.users[schema] = {s.username.lower(): s for s in found}
            self._by_id[schema] = {s.service_id: s.username.lower() for s in found}
            # Forget passwords no longer stored.
            self._passwords[schema] = {
                s.password_token: s.password for s in found if s.password_token
            }
            return
        users = self.users.setdefault(schema, {})
        by_id = self._by_id.setdefault(schema, {})
        for service_id in ids:
            old = by_id.pop(service_id, None)
            if old is not None and users.get(old) is not None:
                if users[old].service_id == service_id:
                    del users[old]
        for subscriber in found:
            users[subscriber.username.lower()] = subscriber
            by_id[subscriber.service_id] = subscriber.username.lower()
        self.partial_loads += 1

    async def _listen_forever(self) -> None:
        assert self._listening is not None

        def listening() -> None:
            if self.full_loads:
                # Loaded before this LISTEN: what changed meanwhile was not notified.
                self.reload_everything_soon()
            self._listening.set()

        await listen_forever(
            self.database_url,
            USERS_CHANNEL,
            on_notify=self.notified,
            on_listen=listening,
            what="RADIUS subscriber cache",
        )
