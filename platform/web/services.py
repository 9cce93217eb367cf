"""The web process's wiring: one object holding the database, Redis, caches and throttles.

Built once by the app factory and kept in `app.state.services`, so that tests (and the
benchmarks) can build an app against any database and Redis without globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiunga.platform.auth.signin import PasswordGate
from kiunga.platform.auth.throttle import LoginThrottle
from kiunga.platform.db.engine import Database, sync_engine
from kiunga.platform.settings import Settings
from kiunga.platform.web.authentication import ApiKeyAuthenticator, StaffSessionLoader
from kiunga.platform.web.tenancy import TenantResolver
from litestar.connection import ASGIConnection
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import Engine

REDIS_TIMEOUT_SECONDS = 2.0
# A burst of requests waits for one of these rather than opening a connection each:
# redis-py's default pool opens new connections one at a time under a lock, so a burst of
# hundreds kept even /readyz's PING waiting for seconds.
REDIS_MAX_CONNECTIONS = 50


@dataclass
class WebServices:
    settings: Settings
    database: Database
    redis_url: str
    tenants: TenantResolver
    api_keys: ApiKeyAuthenticator
    staff_sessions: StaffSessionLoader
    password_gate: PasswordGate = field(default_factory=PasswordGate)
    _sync_engine: Engine | None = None
    _redis: Redis | None = None
    _login_throttle: LoginThrottle | None = None

    @classmethod
    def build(cls, settings: Settings, database_url: str, redis_url: str) -> WebServices:
        database = Database(database_url, pool_size=settings.db_pool_size)
        ttl = settings.tenant_cache_seconds
        return cls(
            settings=settings,
            database=database,
            redis_url=redis_url,
            tenants=TenantResolver(database, settings.base_domain, ttl),
            api_keys=ApiKeyAuthenticator(database, settings.secret_key, ttl),
            staff_sessions=StaffSessionLoader(database, ttl),
        )

    @property
    def sync_engine(self) -> Engine:
        """A small synchronous pool for the tenant administration code (run in threads)."""
        if self._sync_engine is None:
            self._sync_engine = sync_engine(self.database.url, pool_size=2, max_overflow=2)
        return self._sync_engine

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            pool = BlockingConnectionPool.from_url(
                self.redis_url,
                max_connections=REDIS_MAX_CONNECTIONS,
                timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._redis = Redis.from_pool(pool)
        return self._redis

    @property
    def login_throttle(self) -> LoginThrottle:
        # One per process: it keeps the counts of attempts made while Redis is away.
        if self._login_throttle is None:
            self._login_throttle = LoginThrottle(self.redis)
        return self._login_throttle

    def forget_tenants(self) -> None:
        """Drop every cached answer about tenants, keys and memberships."""
        self.tenants.invalidate()
        self.api_keys.invalidate()
        self.staff_sessions.invalidate()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._login_throttle = None
        await self.database.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None


def services_of(connection: ASGIConnection) -> WebServices:
    return connection.app.state.services
