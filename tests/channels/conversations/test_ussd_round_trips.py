"""What a USSD hop costs the database: the round trips each hop of the benchmark's session
makes (home, my account, back, pay, the amount due, confirm) — its SQL statements, BEGIN
and COMMIT, and the ping of a connection taken from the pool — counted by SQLAlchemy
listeners on the app's engine. A hop must stay a handful of them (it is answered within a
second under load), and the screens must still show what is current where money is
concerned.

Before this was measured a session made 74 round trips (38 statements): a connection and
a transaction of its own for the callback, and the account summary (9 statements) read on
every screen that showed money. Then 40 (22 statements), and 34 once the pool stopped
pinging a connection on every checkout."""

from __future__ import annotations

import pytest
from kiunga.platform.db.base import utcnow
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.mpesa.config import SettingsChange, update_settings

from fixtures.round_trips import RoundTrips

pytestmark = pytest.mark.slow

STEPS = ("", "1", "0", "2", "1", "1")
# Every hop: its callback stored (autocommit), BEGIN, the turn's answer written back,
# COMMIT (the pool pings only a connection that sat idle: none in a session's hops).
# Beyond those the first hop reads who is speaking, the account screen the summary (5
# statements, once a session), the pay screen the balance and what is due (read afresh),
# the END its event.
MOST_PER_HOP = 9
MOST_PER_SESSION = 36


async def test_a_hop_is_a_handful_of_statements(app, channel_isp, customer, dial, unit_of_work):
    isp = await channel_isp()
    me = await customer()
    async with unit_of_work() as session:
        await update_settings(
            session,
            SettingsChange(
                base_url="http://127.0.0.1:9", shortcode="174379", consumer_key="k",
                consumer_secret="s", passkey="p",
            ),
        )  # fmt: skip
    phone = dial(isp, me.phone)
    await phone.dial()  # warm: routes and caches, as a running server has them
    phone = dial(isp, me.phone)
    per_hop = []
    database = app.services.database
    with (
        RoundTrips(database.engine.sync_engine) as durable,
        RoundTrips(database.quick_commit_engine().sync_engine) as statements,
    ):
        for step in STEPS:
            before = len(statements.seen)
            screen = await (phone.send(step) if step else phone.dial())
            per_hop.append((step, statements.seen[before:], screen))
    for step, seen, _screen in per_hop:
        print(f"hop {step!r}: {len(seen)} statements: {seen}")
    # Every hop on the pool whose commits do not wait for the disk; none on the other.
    assert durable.seen == []
    counts = [len(seen) for _, seen, _ in per_hop]
    assert per_hop[-1][2].startswith("END You will get an M-Pesa prompt")
    assert max(counts) <= MOST_PER_HOP, counts
    assert sum(counts) <= MOST_PER_SESSION, counts


async def test_the_amount_to_pay_is_read_when_paying(channel_isp, customer, dial, unit_of_work):
    """The account screen may show what was read once in the session, but the amount the
    pay screen offers is what is due at that moment."""
    isp = await channel_isp()
    me = await customer(lapsed=True)
    phone = dial(isp, me.phone)
    await phone.dial()
    assert "KES 1,500" in await phone.send("2")  # pay: the whole price due
    await phone.send("0")
    async with unit_of_work() as session:
        await record_payment(
            session, me.subscriber_id, 100_000, method="cash", reference=None,
            received_at=utcnow(), actor=Actor.system("test"),
        )  # fmt: skip
    pay = await phone.send("2")
    assert "1. Pay KES 500" in pay, pay
