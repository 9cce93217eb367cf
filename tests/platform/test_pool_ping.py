"""The pool pings a connection only after it sat idle: a connection in steady use is handed
out without a round trip, and one whose server side died while it was idle is replaced
before a request sees it."""

from __future__ import annotations

import pytest
from kiunga.platform.db import engine as db_engine
from kiunga.platform.db.engine import Database
from sqlalchemy import text


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=1)
    yield database
    await database.dispose()


@pytest.fixture
def pings(monkeypatch):
    """Every ping the pool sends (passed through to the dialect's own)."""
    sent = []
    real = db_engine.ping

    def counted(dialect, dbapi_connection):
        sent.append(dbapi_connection)
        return real(dialect, dbapi_connection)

    monkeypatch.setattr(db_engine, "ping", counted)
    return sent


async def _backend_pid(database: Database) -> int:
    async with database.engine.connect() as connection:
        return await connection.scalar(text("SELECT pg_backend_pid()"))


async def test_a_connection_in_steady_use_is_not_pinged(database, pings):
    first = await _backend_pid(database)
    for _ in range(5):
        assert await _backend_pid(database) == first
    assert pings == []


async def test_an_idle_connection_is_pinged_and_replaced_when_dead(database_url, pings, engine):
    # Every connection counts as idle for long enough to be pinged.
    database = Database(database_url, pool_size=1, ping_after_idle=0)
    try:
        await _pinged_and_replaced(database, pings, engine)
    finally:
        await database.dispose()


async def _pinged_and_replaced(database, pings, engine):
    idle_pid = await _backend_pid(database)
    # The server ends that connection while it waits in the pool (a restart, a proxy's
    # idle timeout).
    with engine.connect() as admin:
        assert admin.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": idle_pid})
    fresh_pid = await _backend_pid(database)
    assert len(pings) == 1
    assert fresh_pid != idle_pid
