"""The password check: no database connection held while argon2 runs, and a bounded
number of checks at once, the rest told "busy" instead of piling up."""

from __future__ import annotations

import asyncio
import threading

import pytest
from kiunga.platform.auth.signin import HashingBusy, PasswordGate, authenticate_staff
from kiunga.platform.db.engine import Database

OWNER_PASSWORD = "correct horse battery"  # what make_tenant gives every owner


@pytest.fixture
async def database(database_url):
    database = Database(database_url, pool_size=1)
    yield database
    await database.dispose()


class ObservingGate(PasswordGate):
    """Notes how many pooled connections are checked out whenever hashing starts."""

    def __init__(self, database: Database):
        super().__init__()
        self.database = database
        self.checked_out: list[int] = []

    async def run(self, function, *args):
        self.checked_out.append(self.database.engine.pool.checkedout())
        return await super().run(function, *args)


@pytest.mark.parametrize(
    ("email_of", "password", "signs_in"),
    [
        (lambda tenant: tenant.owner_email, OWNER_PASSWORD, True),
        (lambda tenant: tenant.owner_email, "wrong password", False),
        (lambda tenant: "nobody@nowhere.example", OWNER_PASSWORD, False),
    ],
)
async def test_no_connection_is_held_while_hashing(
    database, make_tenant, email_of, password, signs_in
):
    tenant = make_tenant()
    gate = ObservingGate(database)
    principal = await authenticate_staff(
        database, gate, email=email_of(tenant), password=password, tenant_id=tenant.id
    )
    assert (principal is not None) is signs_in
    assert gate.checked_out and set(gate.checked_out) == {0}


async def test_checks_beyond_the_slots_and_the_queue_are_turned_away():
    gate = PasswordGate(1, max_waiting=1, wait_seconds=60)
    release = threading.Event()
    started = threading.Event()

    def hashing() -> str:
        started.set()
        release.wait(60)
        return "done"

    running = asyncio.ensure_future(gate.run(hashing))
    await asyncio.to_thread(started.wait, 60)
    waiting = asyncio.ensure_future(gate.run(lambda: "next"))
    await asyncio.sleep(0)  # let it join the queue
    with pytest.raises(HashingBusy):
        await gate.run(lambda: "one too many")
    release.set()
    assert await running == "done"
    assert await waiting == "next"


async def test_a_check_that_waits_too_long_is_turned_away():
    gate = PasswordGate(1, wait_seconds=0.05)
    release = threading.Event()
    started = threading.Event()

    def hashing() -> None:
        started.set()
        release.wait(60)

    running = asyncio.ensure_future(gate.run(hashing))
    await asyncio.to_thread(started.wait, 60)
    try:
        with pytest.raises(HashingBusy):
            await gate.run(lambda: None)
    finally:
        release.set()
        await running
