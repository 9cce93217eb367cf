"""The database's pools: a connection is pinged only after it sat idle (one in steady use is
handed out without a round trip, one whose server side died while it was idle is replaced
before a request sees it); the quick-commit pool's commits do not wait for the disk, the
main pool's do."""

from __future__ import annotations

import pytest
from kiunga.platform.db import engine as db_engine
from kiunga.platform.db.engine import Database
from sqlalchemy import make_url, text


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


async def test_the_quick_commit_pool_does_not_wait_for_the_disk(database_url, tenant):
    # Commits wait for the disk on this server (the test server's own default does not).
    durable_url = make_url(database_url).update_query_dict({"options": "-c synchronous_commit=on"})
    database = Database(durable_url.render_as_string(hide_password=False), pool_size=1)

    async def setting(durable: bool) -> str:
        engine = database.tenant_engine(tenant.schema, durable=durable)
        async with engine.connect() as connection:
            return await connection.scalar(text("SHOW synchronous_commit"))

    try:
        assert await setting(durable=True) == "on"
        assert await setting(durable=False) == "off"
    finally:
        await database.dispose()
