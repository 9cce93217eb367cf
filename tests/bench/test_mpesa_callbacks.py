"""M-Pesa confirmation callbacks through a real `kiunga serve` process over HTTP:

1. sustained throughput, 20 callbacks in flight, as fast as the server answers: plain
   payments (a new receipt each: stored, credited, allocated, payment.received), then
   payments that each bring an expired prepaid service back (renewal invoice, allocation,
   service.restored, subscriber status);
2. latency at a steady 50 callbacks/s (the goal's rate) and at 10/s, every callback
   restoring a service (the worst case): from the callback stored to its payment and
   `service.restored` committed, on the database's own clock (goal p99 under 200 ms), and
   as the caller sees it, request sent to answer received after that commit (goal p99
   under 2 s);
3. the same at 50/s with one callback in four restoring a service and the rest paying
   subscribers whose service is running (a busy evening rather than a mass reconnection).

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_mpesa_callbacks.py -s`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from kiunga.platform.db.engine import Database
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.mpesa.config import SettingsChange, rotate_callback_token, update_settings
from kiunga.tenants.mpesa.models import CallbackOutcome, MpesaCallback
from kiunga.tenants.services import lifecycle
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import func, select

SHORTCODE = "600984"
THROUGHPUT_CALLBACKS = int(os.environ.get("KIUNGA_BENCH_MPESA_CALLBACKS", "2000"))
RESTORING_CALLBACKS = 300
IN_FLIGHT = 20
RATES = (50, 10)  # callbacks per second
MIXED_RATE, MIXED_RESTORING_EVERY = 50, 4
SECONDS = int(os.environ.get("KIUNGA_BENCH_MPESA_SECONDS", "10"))
GOAL_COMMIT_P99_MS = 200
GOAL_END_TO_END_P99_MS = 2_000
STAFF = Actor.staff(1, "bench@isp.example")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _body(trans_id: str, account: str, amount: str = "100.00") -> dict:
    return {
        "TransactionType": "Pay Bill", "TransID": trans_id, "TransTime": "20261122101500",
        "TransAmount": amount, "BusinessShortCode": SHORTCODE, "BillRefNumber": account,
        "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
        "MSISDN": "2547****149", "FirstName": "Achieng", "MiddleName": "", "LastName": "",
    }  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _prepare(database: Database, tenant, services: int) -> tuple[str, list[str], list[str]]:
    start = datetime.now(UTC) - timedelta(days=40)
    async with database.tenant_session(tenant.schema) as session, session.begin():
        change = SettingsChange(shortcode=SHORTCODE, consumer_key="k", consumer_secret="s",
                                passkey="p")  # fmt: skip
        await update_settings(session, change)
        token = await rotate_callback_token(session, tenant.id)
        package = Package(
            name="Home", price=10_000, currency="KES", billing_type=BillingType.PREPAID,
            validity_count=1, validity_unit=ValidityUnit.MONTH, service_type=ServiceType.PPPOE,
            rate_limit="5M/10M",
        )  # fmt: skip
        session.add(package)
        plain = [Subscriber(account_number=f"P{n:06d}", name="Payer",
                            status=SubscriberStatus.ACTIVE) for n in range(200)]  # fmt: skip
        session.add_all(plain)
        await session.flush()
        package_id = package.id
    expired = []
    for n in range(services):
        async with database.tenant_session(tenant.schema) as session, session.begin():
            subscriber = Subscriber(account_number=f"E{n:06d}", name="Lapsed",
                                    status=SubscriberStatus.ACTIVE)  # fmt: skip
            session.add(subscriber)
            await session.flush()
            await record_payment(session, subscriber.id, 10_000, method="cash", reference=None,
                                 received_at=start, actor=STAFF)  # fmt: skip
            service = await create_service(
                session, NewService(subscriber_id=subscriber.id, package_id=package_id),
                actor=STAFF, now=start,
            )  # fmt: skip
            await lifecycle.expire_service(session, service.id, actor=STAFF)
            expired.append(subscriber.account_number)
    return token, [s.account_number for s in plain], expired


def _serve(settings_env: dict, port: int) -> subprocess.Popen:
    env = {**os.environ, **settings_env, "KIUNGA_PORT": str(port), "KIUNGA_LOG_LEVEL": "WARNING"}
    kiunga = Path(sys.executable).with_name("kiunga")
    workers = os.environ.get("KIUNGA_BENCH_MPESA_WORKERS", "1")
    process = subprocess.Popen(
        [str(kiunga), "serve", "--workers", workers], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("kiunga serve did not start")


async def _throughput(http, url, bodies: list[dict]) -> float:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(body: dict) -> None:
        async with gate:
            answer = await http.post(url, json=body)
            assert answer.status_code == 200

    started = time.perf_counter()
    await asyncio.gather(*(send(body) for body in bodies))
    return len(bodies) / (time.perf_counter() - started)


async def _paced(http, url, bodies: list[dict], rate: int) -> list[float]:
    latencies: list[float] = []

    async def send(body: dict, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent = time.perf_counter()
        answer = await http.post(url, json=body)
        latencies.append((time.perf_counter() - sent) * 1000)
        assert answer.status_code == 200

    begin = time.perf_counter() + 0.2
    await asyncio.gather(*(send(body, begin + n / rate) for n, body in enumerate(bodies)))
    return latencies


async def _commit_latencies(database_url: str, schema: str, prefix: str) -> list[float]:
    database = Database(database_url, pool_size=2)
    try:
        async with database.tenant_session(schema) as session:
            rows = (
                await session.execute(
                    select(MpesaCallback.received_at, MpesaCallback.processed_at,
                           MpesaCallback.outcome)
                    .where(MpesaCallback.receipt.like(f"{prefix}%"))
                )
            ).all()  # fmt: skip
    finally:
        await database.dispose()
    assert {outcome for _, _, outcome in rows} == {CallbackOutcome.CREDITED}
    return [(done - received).total_seconds() * 1000 for received, done, _ in rows]


async def test_confirmation_throughput_and_latency(settings_env, database_url, make_tenant):
    tenant = make_tenant("bench-mpesa")
    mixed_restoring = -(-MIXED_RATE * SECONDS // MIXED_RESTORING_EVERY)
    paced_total = sum(rate * SECONDS for rate in RATES) + mixed_restoring
    database = Database(database_url, pool_size=4)
    try:
        prepared = time.perf_counter()
        token, plain, expired = await _prepare(database, tenant, RESTORING_CALLBACKS + paced_total)
        print(
            f"\nprepared {len(expired)} expired services in {time.perf_counter() - prepared:.0f} s"
        )
    finally:
        await database.dispose()
    port = _free_port()
    server = _serve(settings_env, port)
    url = f"http://127.0.0.1:{port}/hooks/daraja/{token}/c2b/confirmation"
    try:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as http:
            for n in range(20):  # warm up: connections, caches, the token's route
                await http.post(url, json=_body(f"WARM{n:06d}", plain[n]))
            bodies = [_body(f"TP{n:08d}", plain[n % len(plain)])
                      for n in range(THROUGHPUT_CALLBACKS)]  # fmt: skip
            rate = await _throughput(http, url, bodies)
            print(f"throughput, plain payments ({len(bodies)}, {IN_FLIGHT} in flight): "
                  f"{rate:.0f} callbacks/s")  # fmt: skip
            bodies = [_body(f"TR{n:08d}", account)
                      for n, account in enumerate(expired[:RESTORING_CALLBACKS])]  # fmt: skip
            rate = await _throughput(http, url, bodies)
            print(f"throughput, each restoring a service ({len(bodies)}, {IN_FLIGHT} in flight): "
                  f"{rate:.0f} callbacks/s")  # fmt: skip
            offset = RESTORING_CALLBACKS
            end_to_end = {}
            for rate in RATES:
                accounts = expired[offset : offset + rate * SECONDS]
                offset += len(accounts)
                bodies = [_body(f"L{rate}T{n:07d}", a) for n, a in enumerate(accounts)]
                end_to_end[rate] = await _paced(http, url, bodies, rate)
                await asyncio.sleep(2)
            mixed = []
            for n in range(MIXED_RATE * SECONDS):
                if n % MIXED_RESTORING_EVERY == 0:
                    mixed.append(_body(f"MXR{n:07d}", expired[offset]))
                    offset += 1
                else:
                    mixed.append(_body(f"MXP{n:07d}", plain[n % len(plain)]))
            mixed_end_to_end = await _paced(http, url, mixed, MIXED_RATE)
            await asyncio.sleep(2)
    finally:
        server.terminate()
        server.wait(timeout=30)

    for rate in RATES:
        commit = await _commit_latencies(database_url, tenant.schema, f"L{rate}T")
        sent = end_to_end[rate]
        assert len(commit) == len(sent) == rate * SECONDS
        print(
            f"latency at {rate}/s for {SECONDS} s ({len(sent)} callbacks, each restoring a "
            f"service):\n"
            f"  stored → payment and service.restored committed: p50 {_pct(commit, 0.5):.0f} ms,"
            f" p99 {_pct(commit, 0.99):.0f} ms (goal p99 < {GOAL_COMMIT_P99_MS} ms)\n"
            f"  sent → answered (end to end): p50 {_pct(sent, 0.5):.0f} ms, "
            f"p99 {_pct(sent, 0.99):.0f} ms (goal p99 < {GOAL_END_TO_END_P99_MS} ms)"
        )
    commit = await _commit_latencies(database_url, tenant.schema, "MXR")
    plain_commit = await _commit_latencies(database_url, tenant.schema, "MXP")
    assert len(commit) + len(plain_commit) == len(mixed_end_to_end) == MIXED_RATE * SECONDS
    print(
        f"latency at {MIXED_RATE}/s for {SECONDS} s ({len(mixed_end_to_end)} callbacks, one in "
        f"{MIXED_RESTORING_EVERY} restoring a service):\n"
        f"  stored → payment and service.restored committed: p50 {_pct(commit, 0.5):.0f} ms, "
        f"p99 {_pct(commit, 0.99):.0f} ms (plain payments: p99 {_pct(plain_commit, 0.99):.0f} ms)"
        f" (goal p99 < {GOAL_COMMIT_P99_MS} ms)\n"
        f"  sent → answered (end to end, all): p50 {_pct(mixed_end_to_end, 0.5):.0f} ms, "
        f"p99 {_pct(mixed_end_to_end, 0.99):.0f} ms (goal p99 < {GOAL_END_TO_END_P99_MS} ms)"
    )
    database = Database(database_url, pool_size=2)
    try:
        async with database.tenant_session(tenant.schema) as session:
            restored = await session.scalar(
                select(func.count())
                .select_from(Service)
                .where(Service.status == ServiceStatus.ACTIVE)
            )
    finally:
        await database.dispose()
    assert restored == len(expired)
