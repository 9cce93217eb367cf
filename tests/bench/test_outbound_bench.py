"""Outbound SMS: 10,000 reminders for one ISP queued and delivered to the Africa's Talking
emulator by a real `kiunga worker` process, through the official SDK; the worker is killed
(SIGKILL) once midway and started again. Goal: 200 messages/s or more from the first
queued to the last accepted, none lost and none sent twice (the emulator counts every
acceptance of every (app, number, text)).

The ISP sends at up to 1,000 a second (its `send_rate_per_second`). The worker runs with a
short claim lease and doubt grace (10 s and 60 s; production: 120 s and 600 s) so that the
messages its death left in doubt are settled within the run. Delivery reports go to a
recorder here (the web route that receives them is the channel settings' part); the bench
applies, with the route's own function (`apply_delivery_report`), the reports of messages
still without a provider id — the ones a dead sender handed over without writing down.

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_outbound_bench.py -s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from kiunga.channels.messages import secrets
from kiunga.channels.messages.models import ChannelSettings, Message, MessageStatus
from kiunga.channels.messages.outbound import Outgoing, queue_many
from kiunga.channels.messages.receipts import apply_delivery_report
from kiunga.integrations.africastalking.forms import parse_delivery_report
from kiunga.integrations.africastalking.interfaces import AtCredentials
from kiunga.platform.db.engine import Database
from sqlalchemy import func, select, update

MESSAGES = int(os.environ.get("KIUNGA_BENCH_OUTBOUND_MESSAGES", "10000"))
PER_TRANSACTION = 1_000  # as the lifecycle's reminders arrive: a batch a transaction
SEND_RATE = 1_000
GOAL_PER_SECOND = 200
LEASE_SECONDS, GRACE_SECONDS = 10, 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _at_emulator() -> tuple[subprocess.Popen, str]:
    """The AT emulator in a process of its own (in this one it would share the interpreter
    with the report applier and the recorder, and be the bottleneck)."""
    port = _free_port()
    code = (
        "from kiunga.integrations.africastalking.emulator import run_emulator; "
        f"run_emulator('127.0.0.1', {port}, delivery_delay=0.05)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the AT emulator did not start")


def _worker(settings_env: dict, queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings_env,
        "KIUNGA_LOG_LEVEL": "WARNING",
        "KIUNGA_MESSAGES_LEASE": str(LEASE_SECONDS),
        "KIUNGA_MESSAGES_DOUBT_GRACE": str(GRACE_SECONDS),
        "KIUNGA_MESSAGES_BACKOFF": "1",
    }
    kiunga = Path(sys.executable).with_name("kiunga")
    return subprocess.Popen(
        [str(kiunga), "worker", "--queue", queue, "--concurrency", "10"],
        env=env,
        stdout=subprocess.DEVNULL,
    )


async def _emulator(url: str, path: str):
    async with httpx.AsyncClient(timeout=60) as http:
        return (await http.get(f"{url}{path}")).json()


async def _apply_reports(database: Database, schema: str, recorder, stop: asyncio.Event) -> int:
    """Apply the reports of messages still without a provider id; returns how many."""
    seen, waiting, applied = 0, {}, 0
    while True:
        stopping = stop.is_set()
        fresh = recorder.received[seen:]
        seen += len(fresh)
        for callback in fresh:
            waiting[callback.form.get("phoneNumber")] = callback.form
        async with database.tenant_session(schema) as session:
            unsettled = set(
                await session.scalars(
                    select(Message.phone).where(
                        Message.status.in_((MessageStatus.SENDING, MessageStatus.IN_DOUBT)),
                        Message.provider_id.is_(None),
                    )
                )
            )
        for phone in unsettled & waiting.keys():
            # One report a transaction, as the callback route applies them.
            async with database.tenant_session(schema) as session, session.begin():
                if await apply_delivery_report(session, parse_delivery_report(waiting[phone])):
                    applied += 1
                    del waiting[phone]
        if stopping:
            return applied
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def _status_counts(database: Database, schema: str) -> dict[str, int]:
    async with database.tenant_session(schema) as session:
        rows = await session.execute(select(Message.status, func.count()).group_by(Message.status))
        return {status.value: count for status, count in rows}


async def test_ten_thousand_reminders_with_the_worker_killed_midway(
    settings_env, database_url, make_tenant, callback_recorder
):
    tenant = make_tenant("bench-sms")
    emulator, emulator_url = _at_emulator()
    at = AtCredentials(f"bench-{uuid.uuid4().hex[:8]}", "atsk_" + uuid.uuid4().hex, emulator_url)
    async with httpx.AsyncClient(timeout=30) as http:
        registered = await http.post(
            f"{emulator_url}/emulator/accounts",
            json={"username": at.username, "api_key": at.api_key, "sender_ids": ["TESTISP"],
                  "delivery_report_url": f"{callback_recorder.url}/at"},
        )  # fmt: skip
        assert registered.status_code == 201, registered.text
    database = Database(database_url, pool_size=4)
    queue = f"kiunga:bench:{uuid.uuid4().hex[:8]}"
    workers: list[subprocess.Popen] = []
    stop = asyncio.Event()
    try:
        async with database.tenant_session(tenant.schema) as session, session.begin():
            session.add(
                ChannelSettings(
                    id=1,
                    at_username=at.username,
                    at_api_key_encrypted=secrets.encrypt(at.api_key),
                    at_base_url=at.base_url,
                    at_sender_id="TESTISP",
                    send_rate_per_second=SEND_RATE,
                )
            )
            await session.flush()
            # The reminders go now, whatever the hour the bench runs at (None in the
            # constructor would be taken for "the default").
            await session.execute(
                update(ChannelSettings).values(quiet_hours_start=None, quiet_hours_end=None)
            )
        workers.append(_worker(settings_env, queue))
        await asyncio.sleep(3)  # the worker connects (not measured)
        applier = asyncio.create_task(
            _apply_reports(database, tenant.schema, callback_recorder, stop)
        )

        started = time.perf_counter()
        for first in range(0, MESSAGES, PER_TRANSACTION):
            async with database.tenant_session(tenant.schema) as session, session.begin():
                await queue_many(
                    session,
                    [
                        Outgoing(
                            phone=f"+25471{n:07d}",
                            body=f"Habari, your Home 10 Mbps ends on 12 Dec 2026. Pay KES "
                            f"1,500 to account A{n:06d} to stay connected.",
                            kind="due_soon",
                            dedupe_key=f"bench:{n}",
                        )
                        for n in range(first, min(first + PER_TRANSACTION, MESSAGES))
                    ],
                )
        queued = time.perf_counter() - started

        killed_at = None
        while True:
            accepted = (await _emulator(emulator_url, "/emulator/sms/stats"))["accepted"]
            if killed_at is None and accepted >= MESSAGES // 2:
                workers[-1].send_signal(signal.SIGKILL)
                workers[-1].wait()
                killed_at = (time.perf_counter() - started, accepted)
                workers.append(_worker(settings_env, queue))
            if accepted >= MESSAGES:
                break
            assert time.perf_counter() - started < 900, f"only {accepted} accepted"
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started

        async def all_sent():
            counts = await _status_counts(database, tenant.schema)
            done = counts.get("sent", 0) + counts.get("delivered", 0)
            return counts if done == MESSAGES else None

        deadline = time.monotonic() + 120
        counts = await all_sent()
        while counts is None and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            counts = await all_sent()
        stop.set()
        applied = await applier
        await asyncio.sleep(1)  # anything sent twice would have arrived by now
        stats = await _emulator(emulator_url, "/emulator/sms/stats")
        outbox = await _emulator(emulator_url, "/emulator/sms/outbox")
        mine = [m for m in outbox if m["username"] == at.username]
        async with database.tenant_session(tenant.schema) as session:
            resent = await session.scalar(
                select(func.count(Message.id)).where(Message.attempts > 1)
            )
    finally:
        stop.set()
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        await database.dispose()
        emulator.terminate()
        emulator.wait(timeout=20)

    rate = MESSAGES / elapsed
    print(
        f"\noutbound: {MESSAGES} reminder SMS queued in {queued:.1f} s "
        f"({PER_TRANSACTION} a transaction); all accepted by the AT emulator "
        f"{elapsed:.1f} s after the first was queued: {rate:.0f} messages/s "
        f"(goal {GOAL_PER_SECOND}/s; the ISP's rate {SEND_RATE}/s)"
    )
    print(
        f"outbound: worker SIGKILLed at {killed_at[0]:.1f} s with {killed_at[1]} accepted, "
        f"restarted; {applied} messages in doubt settled by their delivery report, "
        f"{resent} sent again after the grace; final statuses {counts}"
    )
    print(
        f"outbound: emulator accepted {len(mine)} messages to {len({m['to'] for m in mine})} "
        f"numbers, duplicates {len(stats['duplicates'])}"
    )
    assert counts is not None, "not every message was marked sent"
    assert len(mine) == MESSAGES and len({m["to"] for m in mine}) == MESSAGES
    assert stats["duplicates"] == []
    assert rate >= GOAL_PER_SECOND
