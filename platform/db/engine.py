"""Engines and sessions: one pool for the process, a translated view of it per tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kiunga.platform.db.naming import validate_schema
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

TENANT_SCHEMA_KEY = "tenant_schema"


class Database:
    """The process's database: a platform session factory and per-tenant sessions."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
        )
        self._platform_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._tenant_engines: dict[str, AsyncEngine] = {}

    def tenant_engine(self, schema: str) -> AsyncEngine:
        """The shared pool seen through one tenant's schema (a cheap, cached option view)."""
        engine = self._tenant_engines.get(schema)
        if engine is None:
            engine = self.engine.execution_options(
                schema_translate_map={None: validate_schema(schema)}
            )
            self._tenant_engines[schema] = engine
        return engine

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


def sync_engine(url: str, **kwargs) -> Engine:
    """A synchronous engine, for migrations and the CLI."""
    return create_engine(url, **kwargs)


def libpq_url(url: str) -> str:
    """The same URL as plain libpq understands it (for psycopg.connect and psql)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
