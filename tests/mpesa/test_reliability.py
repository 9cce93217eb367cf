"""Reliability: a thousand confirmation callbacks, half of them repeats, twenty at a time;
and a burst while Redis is down, whose restorations reach the worker once it is back."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter

import httpx
import pytest
from arq.constants import health_check_key_suffix
from kiunga.platform.jobs import JobRegistry
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.jobs.worker import build_worker_settings, serve_worker
from kiunga.platform.web.app import create_app
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.models import Payment
from kiunga.tenants.mpesa.models import MpesaCallback, MpesaTransaction
from kiunga.tenants.services.models import Service, ServiceStatus
from redis.asyncio import Redis
from sqlalchemy import func, select

from .conftest import c2b_body

pytestmark = pytest.mark.slow
CONCURRENCY = 20


async def _burst(client, isp, bodies: list[dict]) -> list[int]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(body):
        async with gate:
            response = await client.post(isp.hook("c2b/confirmation"), json=body)
            assert response.json()["ResultCode"] == "0", response.text
            return response.status_code

    return await asyncio.gather(*(send(body) for body in bodies))


async def test_a_thousand_callbacks_half_repeats_twenty_at_a_time(
    isp, add_subscriber, add_expired_service, client_for, session_for, check_invariants
):
    subscribers = [await add_subscriber(isp) for _ in range(25)]
    services = [await add_expired_service(isp, s.id, price=10_000) for s in subscribers[:10]]
    unique = [
        c2b_body(f"RB{n:08d}", str(100 + n % 7 * 50), subscribers[n % 25].account_number)
        for n in range(500)
    ]
    bodies = unique + [random.choice(unique) for _ in range(500)]
    random.Random(7).shuffle(bodies)
    statuses = await _burst(client_for("daraja.example"), isp, bodies)
    assert Counter(statuses) == {200: 1000}

    expected: Counter[int] = Counter()
    for body in unique:
        account = body["BillRefNumber"]
        subscriber = next(s for s in subscribers if s.account_number == account)
        expected[subscriber.id] += int(float(body["TransAmount"]) * 100)
    async with session_for(isp) as session:
        count = select(func.count()).select_from(Payment).where(Payment.method == "mpesa")
        assert await session.scalar(count) == 500
        assert await session.scalar(select(func.count()).select_from(MpesaTransaction)) == 500
        assert await session.scalar(select(func.count()).select_from(MpesaCallback)) == 1000
        mpesa_total = select(Payment.subscriber_id, func.sum(Payment.amount)).where(
            Payment.method == "mpesa"
        )
        paid = dict((await session.execute(mpesa_total.group_by(Payment.subscriber_id))).all())
        assert paid == dict(expected)
        for service_id in services:
            assert (await session.get(Service, service_id)).status is ServiceStatus.ACTIVE
    await check_invariants(isp)


# ------------------------------------------------------------------------ Redis outage


provisioned: list[int] = []
jobs = JobRegistry()


@jobs.on_event("service.restored", name="test_mpesa.provision_restored")
async def provision_restored(ctx, event):
    # Stands in for the router/RADIUS side of a restoration.
    provisioned.append(event.payload["service_id"])


async def test_redis_down_during_a_burst_loses_no_payment_and_no_restoration(
    isp,
    add_subscriber,
    add_expired_service,
    session_for,
    settings,
    database_url,
    valkey,
):
    redis_url = valkey.url
    subscribers = [await add_subscriber(isp) for _ in range(30)]
    services = [await add_expired_service(isp, s.id, price=10_000) for s in subscribers]
    queue_name = "kiunga:test:mpesa-outage"
    worker = asyncio.create_task(
        serve_worker(
            build_worker_settings(
                database_url, redis_url, queue_name=queue_name, registry=jobs, poll_delay=0.05
            ),
            handle_signals=False,
        )
    )
    app = create_app(settings, database_url, redis_url)
    try:
        probe = Redis(port=valkey.port)
        for _ in range(300):
            if await probe.exists(queue_name + health_check_key_suffix):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the worker did not start")
        await probe.aclose()
        valkey.stop()

        transport = httpx.ASGITransport(app=app, client=("196.201.214.1", 443))
        async with httpx.AsyncClient(transport=transport, base_url="http://x.example") as client:
            bodies = [
                c2b_body(f"RO{n:08d}", "100", s.account_number) for n, s in enumerate(subscribers)
            ]
            statuses = await _burst(client, isp, bodies + bodies[:10])
        assert set(statuses) == {200}
        async with session_for(isp) as session:
            count = select(func.count()).select_from(Payment).where(Payment.method == "mpesa")
            assert await session.scalar(count) == 30
            for service_id in services:
                assert (await session.get(Service, service_id)).status is ServiceStatus.ACTIVE
            for subscriber in subscribers:
                assert await ledger.balance(session, subscriber.id) == 0
        await asyncio.sleep(1.0)
        assert not set(services) & set(provisioned), "nothing reached a dead Redis"

        valkey.start()
        deadline = time.monotonic() + 60
        while not set(services) <= set(provisioned):
            assert time.monotonic() < deadline, f"{len(set(provisioned))} of {len(services)}"
            await asyncio.sleep(0.1)
        # Handlers may run more than once (their contract: effects outside the database are
        # made safe to repeat); the restorations themselves happened once each.
        async with session_for(isp) as session:
            restored = await session.scalars(
                select(OutboxEvent.payload["service_id"].as_integer()).where(
                    OutboxEvent.topic == "service.restored"
                )
            )
            assert sorted(restored) == sorted(services)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await app.services.close()
        valkey.stop()
