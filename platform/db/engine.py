"""Engines and sessions: one pool for the process, a translated view of it per tenant."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kiunga.platform.db.naming import validate_schema
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

TENANT_SCHEMA_KEY = "tenant_schema"

# A pooled connection given back less than this long ago is taken as alive; one idle for
# longer is pinged before it is handed out. Pinging every checkout (pool_pre_ping) cost a
# round trip on every request, a fifth of a USSD hop's; a connection in steady use is
# proven alive by its last statement. A server restart or a dropped link is found by the
# ping after a quiet spell, or else by the next statement, whose disconnect error makes
# the pool drop every connection older than it (only the requests under way then fail).
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "kiunga_idle_since"


def ping(dialect, dbapi_connection) -> bool:
    """The dialect's own liveness check (what pool_pre_ping sends)."""
    return dialect.do_ping(dbapi_connection)


def ping_connections_idle_for(engine: AsyncEngine, seconds: float) -> None:
    """Ping a connection on checkout only when it sat in the pool for `seconds` or more."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        # A new connection has no mark (`info` lives and dies with the DBAPI connection):
        # just opened, it needs no ping.
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return
        try:
            alive = ping(dialect, dbapi_connection)
        except Exception as error:
            raise DisconnectionError("connection lost while idle") from error
        if not alive:
            # The pool discards this connection and hands out a fresh one.
            raise DisconnectionError("connection lost while idle")


class Database:
    """The process's database: a platform session factory and per-tenant sessions."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    ):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, echo=echo
        )
        ping_connections_idle_for(self.engine, ping_after_idle)
        self._pool_size, self._echo, self._ping_after_idle = pool_size, echo, ping_after_idle
        self._quick_commit_engine: AsyncEngine | None = None
        self._platform_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._tenant_engines: dict[tuple[str, bool], AsyncEngine] = {}

    def tenant_engine(self, schema: str, *, durable: bool = True) -> AsyncEngine:
        """The shared pool seen through one tenant's schema (a cheap, cached option view).

        `durable=False`: a small pool of its own whose commits return before their record
        reaches the disk (synchronous_commit off). A crash of the database server (not of
        the application) may then lose the last fraction of a second of such commits, each
        whole: a transaction is still all or nothing. For work a person waits on that can
        afford that: a USSD hop. A disk sometimes takes hundreds of milliseconds to flush,
        and every commit waiting on it waits that long."""
        key = (schema, durable)
        engine = self._tenant_engines.get(key)
        if engine is None:
            base = self.engine if durable else self.quick_commit_engine()
            engine = base.execution_options(schema_translate_map={None: validate_schema(schema)})
            self._tenant_engines[key] = engine
        return engine

    def quick_commit_engine(self) -> AsyncEngine:
        """The pool behind `tenant_engine(..., durable=False)` (made on first use)."""
        if self._quick_commit_engine is None:
            # Half the main pool's: hops hold a connection for milliseconds, and every
            # process's pools count against the server's max_connections.
            size = max(2, self._pool_size // 2)
            # After any options the URL gives (libpq takes the last of a setting).
            given = make_url(self.url).query.get("options") or ""
            given = given if isinstance(given, str) else " ".join(given)
            self._quick_commit_engine = create_async_engine(
                self.url,
                pool_size=size,
                max_overflow=size,
                echo=self._echo,
                connect_args={"options": f"{given} -c synchronous_commit=off".strip()},
            )
            ping_connections_idle_for(self._quick_commit_engine, self._ping_after_idle)
        return self._quick_commit_engine

    @asynccontextmanager
    async def platform_session(self) -> AsyncIterator[AsyncSession]:
        async with self._platform_sessions() as session:
            yield session

    @asynccontextmanager
    async def tenant_session(self, schema: str) -> AsyncIterator[AsyncSession]:
        """A session for exactly one tenant. Its `info` names the tenant for the outbox."""
        session = AsyncSession(bind=self.tenant_engine(schema), expire_on_commit=False)
        session.info[TENANT_SCHEMA_KEY] = schema
        async with session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._quick_commit_engine is not None:
            await self._quick_commit_engine.dispose()


def sync_engine(url: str, **kwargs) -> Engine:
    """A synchronous engine, for migrations and the CLI."""
    return create_engine(url, **kwargs)


def libpq_url(url: str) -> str:
    """The same URL as plain libpq understands it (for psycopg.connect and psql)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
