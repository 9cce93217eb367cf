"""The tenant side of RADIUS at scale: the subscriber cache and the accounting writer.

20,000 PPPoE services in 4 ISPs (KIUNGA_RADIUS_BENCH_SERVICES), written in bulk. Printed:
- the cache's first load (every password decrypted) and a full reload (only changed
  passwords decrypted), and the longest time the event loop was held during a reload;
- `authorize()` calls per second from memory (what each Access-Request costs the cache);
- from a suspension's commit to a refusal in the cache (NOTIFY, then the few rows read);
- accounting records per second through the writer, one transaction per ISP per batch of
  500: Starts, then two rounds of Interim-Updates (each adding usage and period totals).

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_radius_tenant.py -s`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from kiunga.integrations.radius.interfaces import (
    AccountingRecord,
    AcctStatus,
    RadiusClient,
    Rejection,
)
from kiunga.platform.db.engine import sync_engine
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.radius.accounting import AccountingWriter
from kiunga.tenants.network.radius.authorizer import TenantAuthorizer
from kiunga.tenants.services.credentials import encrypt_password
from kiunga.tenants.services.models import Service
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import insert, select, update

SERVICES = int(os.environ.get("KIUNGA_RADIUS_BENCH_SERVICES", "20000"))
ISPS = 4
BATCH = 500


def _fill(engine, schema: str, count: int, prefix: str) -> str:
    """The services, and a radius-mode router for their accounting; returns its id."""
    now = datetime.now(UTC)
    with engine.execution_options(schema_translate_map={None: schema}).begin() as conn:
        router_id = conn.scalar(
            insert(Router)
            .values(
                name="NAS", address="10.0.0.1", api_port=8728, use_tls=False, mode="radius",
                radius_secret_encrypted="unused here", coa_port=3799,
                require_message_authenticator=False,
            )
            .returning(Router.id)
        )  # fmt: skip
        conn.execute(
            insert(Package).values(
                name="Home 10", price=150_000, currency="KES", billing_type="prepaid",
                validity_count=1, validity_unit="month", service_type="pppoe",
                rate_limit="10M/10M", data_cap_bytes=50 * 2**30, description="",
            )
        )  # fmt: skip
        package_id = conn.scalar(select(Package.id))
        conn.execute(
            insert(Subscriber),
            [{"account_number": f"B{n:07d}", "name": f"Subscriber {n}"} for n in range(count)],
        )
        ids = list(conn.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        password = encrypt_password("bench-pass")  # one token: the first load decrypts once
        conn.execute(
            insert(Service),
            [
                {
                    "subscriber_id": subscriber_id,
                    "package_id": package_id,
                    "service_type": "pppoe",
                    "username": f"{prefix}{n}",
                    "password_encrypted": password if n % 2 else encrypt_password(f"pw{n}"),
                    "status": "active",
                    "activated_at": now,
                    "period_start": now,
                    "expires_at": now + timedelta(days=30),
                }
                for n, subscriber_id in enumerate(ids)
            ],
        )
    return str(router_id)


def _records(schema: str, router_id: str, count: int, status: AcctStatus, scale: int, prefix):
    now = datetime.now(UTC)
    return [
        AccountingRecord(
            tenant_key=schema, router_id=router_id, nas_address="10.0.0.1", status=status,
            session_id=f"{n:08x}", username=f"{prefix}{n}", nas_ip=None, nas_identifier=None,
            framed_ip=None, calling_station_id=None, session_time=scale * 300,
            input_octets=scale * 1_000_000 + n, output_octets=scale * 5_000_000 + n,
            input_packets=None, output_packets=None, terminate_cause=None, event_time=None,
            delay_time=None, received_at=now,
        )
        for n in range(count)
    ]  # fmt: skip


async def _longest_stall(coroutine) -> tuple[float, float]:
    """(seconds the coroutine took, longest gap a 1 ms ticker saw meanwhile)."""
    longest = 0.0
    running = True

    async def ticker():
        nonlocal longest
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await coroutine
    took = time.perf_counter() - started
    running = False
    await task
    return took, longest


async def test_radius_tenant_side_at_scale(make_tenant, database_url, settings_env):
    engine = sync_engine(database_url)
    per_isp = SERVICES // ISPS
    tenants = [make_tenant("radbench") for _ in range(ISPS)]
    started = time.perf_counter()
    routers = [
        _fill(engine, tenant.schema, per_isp, f"u{number}-")
        for number, tenant in enumerate(tenants)
    ]
    print(f"\n{SERVICES} services in {ISPS} ISPs written in {time.perf_counter() - started:.1f} s")

    authorizer = TenantAuthorizer(database_url, reload_seconds=3600)
    started = time.perf_counter()
    await authorizer.start()
    first = time.perf_counter() - started
    try:
        cached = sum(len(users) for users in authorizer.users.values() if users)
        assert cached >= SERVICES
        reload_took, stall = await _longest_stall(authorizer._load_everything())
        print(
            f"cache: first load {first:.2f} s, full reload {reload_took:.2f} s "
            f"(event loop held at most {stall * 1000:.0f} ms)"
        )

        nas = RadiusClient(secret=b"s", tenant_key=tenants[0].schema, router_id="1")
        names = [f"u0-{n}" for n in range(per_isp)]
        calls = 200_000
        started = time.perf_counter()
        for n in range(calls):
            authorizer.authorize(nas, names[n % per_isp])
        rate = calls / (time.perf_counter() - started)
        print(f"authorize(): {rate:,.0f} calls/s from memory")

        latencies = []
        for n in range(20):
            with engine.execution_options(
                schema_translate_map={None: tenants[1].schema}
            ).begin() as conn:
                conn.execute(
                    update(Service).where(Service.username == f"u1-{n}").values(status="suspended")
                )
            changed = time.perf_counter()
            other = RadiusClient(secret=b"s", tenant_key=tenants[1].schema, router_id="1")
            for _ in range(20_000):  # ten seconds at most
                if isinstance(authorizer.authorize(other, f"u1-{n}"), Rejection):
                    break
                await asyncio.sleep(0.0005)
            latencies.append(time.perf_counter() - changed)
        print(
            f"commit → refused in the cache: median {statistics.median(latencies) * 1000:.1f} ms,"
            f" max {max(latencies) * 1000:.1f} ms"
        )
    finally:
        await authorizer.close()

    writer = AccountingWriter(database_url)
    await writer.start()
    try:
        for status, scale in (
            (AcctStatus.START, 0),
            (AcctStatus.INTERIM_UPDATE, 1),
            (AcctStatus.INTERIM_UPDATE, 2),
        ):
            records = []
            for number, tenant in enumerate(tenants):
                records += _records(
                    tenant.schema, routers[number], per_isp, status, scale, f"u{number}-"
                )
            records.sort(key=lambda record: record.session_id)  # ISPs mixed in each batch
            started = time.perf_counter()
            for at in range(0, len(records), BATCH):
                await writer.write(records[at : at + BATCH])
            took = time.perf_counter() - started
            print(
                f"accounting {status.name.lower()}: {len(records) / took:,.0f} records/s "
                f"({len(records)} in {took:.1f} s, batches of {BATCH})"
            )
    finally:
        await writer.close()
        engine.dispose()
