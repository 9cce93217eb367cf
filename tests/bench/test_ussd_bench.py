"""USSD over real HTTP through `kiunga serve`: 200 concurrent sessions in Africa's
Talking's form encoding, each a subscriber stepping through the account and pay menus:
dial (home), 1 (my account), 0 (back), 2 (pay), 1 (pay the amount due), 1 (confirm: the
END screen, which writes the STK push's event for after the session). Every hop is timed.

- paced: the 200 sessions run side by side, each subscriber taking KIUNGA_BENCH_USSD_THINK
  seconds (default 3) between screens on average, as a person reads one (a whole session is
  ~20 s at AT): each pause drawn between half and one and a half times that (from a fixed
  seed), as people read at their own pace. With every pause exactly 3 s, the hops one slow
  moment delayed all came back together 3 s later, and again 3 s after that: a convoy of
  the benchmark's own making that no crowd of people forms. Several sessions each,
  arrivals spread over one think time.
  Goal: p99 per hop under 100 ms (AT drops an application after ~15 s; a person gives up
  long before);
- saturated: KIUNGA_BENCH_USSD_SATURATED sessions (default 50) hop back to back, for the
  record (throughput, and the latency that queueing behind it gives).

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_ussd_bench.py -s -p no:cacheprovider`
(`./run bench` runs every benchmark).
KIUNGA_BENCH_USSD_WORKERS sets `kiunga serve --workers` (default 1).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import secrets
import time

import httpx
import psutil
from kiunga.channels.messages.secrets import token_hash
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.platform.models import UssdCodeRoute, WebhookRoute
from kiunga.platform.tenant_admin import create_tenant
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.mpesa.config import SettingsChange, update_settings
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import SubscriberStatus
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber
from sqlalchemy.orm import Session

from fixtures.served import kiunga_serve

SESSIONS = int(os.environ.get("KIUNGA_BENCH_USSD_SESSIONS", "200"))
THINK_SECONDS = float(os.environ.get("KIUNGA_BENCH_USSD_THINK", "3.0"))
SATURATED = int(os.environ.get("KIUNGA_BENCH_USSD_SATURATED", "50"))
PACED_ROUNDS = int(os.environ.get("KIUNGA_BENCH_USSD_ROUNDS", "3"))
GOAL_P99_MS = 100
GATEWAY_CONNECTIONS = 64
STEPS = ("", "1", "0", "2", "1", "1")
ACTOR = Actor.system("bench")


async def _subscribers(database_url: str, schema: str, count: int) -> list[str]:
    """`count` subscribers with a paid prepaid service each; their phones."""
    database = Database(database_url, pool_size=2)
    phones = [f"+2547{10_000_000 + number:08d}" for number in range(count)]
    try:
        async with database.tenant_session(schema) as session, session.begin():
            await update_settings(
                session,
                SettingsChange(
                    base_url="http://127.0.0.1:9",
                    shortcode="174379",
                    consumer_key="bench",
                    consumer_secret="bench",
                    passkey="bench",
                ),
            )
            package = Package(
                name="Home 10",
                price=150_000,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=1,
                validity_unit=ValidityUnit.MONTH,
                service_type=ServiceType.PPPOE,
                rate_limit="5M/10M",
            )
            session.add(package)
            await session.flush()
            package_id = package.id
        for number, phone in enumerate(phones):
            async with database.tenant_session(schema) as session, session.begin():
                subscriber = await create_subscriber(
                    session,
                    SubscriberFields(name=f"Subscriber {number}", phones=[phone]),
                    actor=ACTOR,
                    status=SubscriberStatus.PENDING_INSTALLATION,
                )
                await create_service(
                    session,
                    NewService(subscriber_id=subscriber.id, package_id=package_id),
                    actor=ACTOR,
                    activate=False,
                )
                await record_payment(
                    session,
                    subscriber.id,
                    150_000,
                    method="mpesa",
                    reference=f"BENCH{number:07d}",
                    received_at=utcnow(),
                    actor=ACTOR,
                )
        return phones
    finally:
        await database.dispose()


def gateway(base: str) -> httpx.AsyncClient:
    """Africa's Talking's side: one client, its connections kept alive and shared by every
    session (the load generator shares the machine's cores with the server: it stays one
    light process)."""
    limits = httpx.Limits(
        max_connections=GATEWAY_CONNECTIONS,
        max_keepalive_connections=GATEWAY_CONNECTIONS,
        keepalive_expiry=4.0,  # under the server's 5 s: a kept connection is seldom stale
    )
    return httpx.AsyncClient(base_url=base, timeout=60, limits=limits)


class Subscriber:
    """One phone dialling, through the gateway's shared connections."""

    def __init__(self, client: httpx.AsyncClient, path: str, code: str, phone: str):
        self.client = client
        self.path, self.code, self.phone = path, code, phone
        self.resent = 0
        # This subscriber's reading pace (seeded by the phone: the same pauses every run).
        self.pace = random.Random(phone)
        # Hop latencies by screen (0: the dial), for the figures per screen.
        self.per_screen: dict[int, list[float]] = {}

    async def session(self, latencies: list[float], think: float) -> None:
        session_id = f"ATUid_{secrets.token_hex(10)}"
        inputs: list[str] = []
        for step in STEPS:
            if step:
                inputs.append(step)
            form = {
                "sessionId": session_id,
                "serviceCode": self.code,
                "phoneNumber": self.phone,
                "networkCode": "63902",
                "text": "*".join(inputs),
            }
            sent = time.perf_counter()
            try:
                answer = await self.client.post(self.path, data=form)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed the kept-alive connection as the request went out (its
                # keep-alive ran out while the subscriber read the screen): sent again, as
                # Africa's Talking would, and answered the same. Timed from the first try.
                self.resent += 1
                answer = await self.client.post(self.path, data=form)
            latencies.append((time.perf_counter() - sent) * 1000)
            self.per_screen.setdefault(len(inputs), []).append(latencies[-1])
            assert answer.status_code == 200 and len(answer.text) <= 182, answer.text
            final = step == "1" and len(inputs) == 5
            assert answer.text.startswith("END " if final else "CON "), (inputs, answer.text)
            if final:
                assert "M-Pesa prompt" in answer.text, answer.text
            if think:
                await asyncio.sleep(think * self.pace.uniform(0.5, 1.5))


def _server_processes() -> list[psutil.Process]:
    """`kiunga serve` and its workers: this process's children serving HTTP."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "serve" in " ".join(child.cmdline()) or "multiprocessing" in " ".join(
                child.cmdline()
            ):
                found.append(child)
        except psutil.Error:
            pass
    return found


def _database_cpu_seconds() -> float:
    """PostgreSQL's and Valkey's CPU so far: each server's main process, its live children
    (PostgreSQL's backends) and the children it has reaped (backends that ended)."""
    total = 0.0
    for process in psutil.process_iter(["name", "ppid"]):
        name = process.info["name"] or ""
        if not name.startswith(("postgres", "valkey", "redis")):
            continue
        try:
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.Error:
            parent = ""
        if parent.startswith("postgres"):
            continue  # a backend: counted under its postmaster
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            total += _cpu_seconds(process.children())
        except psutil.Error:
            pass
    return total


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _load() -> str:
    """The machine's load average (1, 5, 15 min): other work on the cores shows here."""
    return "/".join(f"{figure:.1f}" for figure in os.getloadavg())


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _figures(latencies: list[float]) -> str:
    p50, p95, p99 = (_percentile(latencies, share) for share in (0.50, 0.95, 0.99))
    return (
        f"{len(latencies)} hops: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


async def _run(subscribers: list[Subscriber], rounds: int, think: float) -> tuple[list, float]:
    latencies: list[float] = []
    for subscriber in subscribers:
        subscriber.per_screen.clear()

    async def one(index: int, subscriber: Subscriber) -> None:
        # Arrivals spread over one think time, as dialling people do.
        await asyncio.sleep(think * index / len(subscribers))
        for _ in range(rounds):
            await subscriber.session(latencies, think)

    # The load generator's own garbage collections would stop every session it times at
    # once and be counted as the server's latency: none while it measures.
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        await asyncio.gather(*(one(i, s) for i, s in enumerate(subscribers)))
        return latencies, time.perf_counter() - started
    finally:
        gc.enable()


def _per_screen(subscribers: list[Subscriber]) -> str:
    names = ("dial", "account", "back", "pay", "amount", "confirm")
    figures = []
    for index, name in enumerate(names):
        hops = [hop for s in subscribers for hop in s.per_screen.get(index, [])]
        if hops:
            figures.append(f"{name} {_percentile(hops, 0.99):.0f}")
    return ", ".join(figures)


async def test_ussd_200_concurrent_sessions(engine, settings, settings_env):
    slug = f"bench-ussd-{os.getpid()}"
    tenant = create_tenant(engine, slug=slug, name="Bench USSD", owner_email=f"o@{slug}.test",
                           owner_password="bench owner password",
                           base_domain=settings.base_domain)  # fmt: skip
    token, code = secrets.token_urlsafe(24), f"*483*{os.getpid() % 10_000}#"
    with Session(engine) as session, session.begin():
        session.add(
            WebhookRoute(token_hash=token_hash(token), tenant_id=tenant.id, provider="channels")
        )
        session.add(UssdCodeRoute(service_code=code, extension="", tenant_id=tenant.id))
    phones = await _subscribers(settings_env["KIUNGA_DATABASE_URL"], tenant.schema, SESSIONS)
    workers = os.environ.get("KIUNGA_BENCH_USSD_WORKERS", "1")
    with kiunga_serve(settings_env, "--workers", workers) as base:
        path = f"/hooks/channels/{token}/ussd"
        client = gateway(base)
        subscribers = [Subscriber(client, path, code, phone) for phone in phones]
        try:
            await _run(subscribers, 1, THINK_SECONDS)  # warm: connections, caches, plans
            servers = _server_processes()
            cpu_before = _cpu_seconds(servers)
            others = {
                "load generator": lambda: _cpu_seconds([psutil.Process()]),
                "databases": _database_cpu_seconds,
            }
            others_before = {name: measure() for name, measure in others.items()}
            load_before = _load()
            paced, paced_took = await _run(subscribers, PACED_ROUNDS, THINK_SECONDS)
            cpu_per_hop = (_cpu_seconds(servers) - cpu_before) / len(paced) * 1000
            others_per_hop = {
                name: (measure() - others_before[name]) / len(paced) * 1000
                for name, measure in others.items()
            }
            load_after = _load()
            paced_screens = _per_screen(subscribers)
            saturated, saturated_took = await _run(subscribers[:SATURATED], 2, 0.0)
            load_saturated = _load()
        finally:
            await client.aclose()
    rate = len(paced) / paced_took
    print(
        f"\n[bench] USSD, {SESSIONS} concurrent sessions, kiunga serve --workers {workers}, "
        f"{len(STEPS)} hops a session (home, account, back, pay, amount, confirm END)"
    )
    print(
        f"[bench]   paced ({THINK_SECONDS:g} s between screens, {rate:.0f} hops/s): "
        f"{_figures(paced)} (goal p99 < {GOAL_P99_MS} ms); machine load {load_before} "
        f"before, {load_after} after"
    )
    print(f"[bench]   paced p99 by screen (ms): {paced_screens}")
    print(
        f"[bench]   hops sent again after a closed connection: {sum(s.resent for s in subscribers)}"
    )
    print(
        f"[bench]   server CPU per hop (user + system, all its processes): {cpu_per_hop:.1f} ms "
        "(the load-independent cost: one core serves about 1000 / this hops a second)"
    )
    print(
        "[bench]   and beside it, per hop: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in others_per_hop.items())
    )
    print(
        f"[bench]   saturated ({SATURATED} sessions back to back): {_figures(saturated)}, "
        f"{len(saturated) / saturated_took:.0f} hops/s; machine load {load_saturated} after"
    )
    assert _percentile(paced, 0.99) < GOAL_P99_MS
