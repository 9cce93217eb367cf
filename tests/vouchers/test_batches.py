"""Voucher batches against the real database: generation (unique codes from the clean
alphabet, re-drawn on collision), bad specs, states, revoking, expiry of unused codes, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from kiunga.platform.areas import assemble
from kiunga.platform.jobs import JobRegistry
from kiunga.platform.jobs.registry import periodic_job_id
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.vouchers import batches, codes, export, jobs
from kiunga.tenants.vouchers.batches import BatchSpec
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from sqlalchemy import func, select, update

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def make_batch(unit_of_work, package_id, **fields) -> int:
    async with unit_of_work() as session:
        batch = await batches.create_batch(
            session, BatchSpec(package_id=package_id, **{"count": 20, **fields}), now=NOW
        )
        return batch.id


async def test_a_batch_holds_count_unique_codes_from_its_alphabet(unit_of_work, add_package):
    package_id = await add_package(price=2_000)
    batch_id = await make_batch(
        unit_of_work, package_id, count=500, code_length=6, prefix="hs", mac_binding=True
    )
    async with unit_of_work() as session:
        batch = await session.get(VoucherBatch, batch_id)
        rows = list(await session.scalars(select(Voucher).where(Voucher.batch_id == batch_id)))
    assert (batch.count, batch.price, batch.currency, batch.prefix) == (500, 2_000, "KES", "HS")
    assert batch.alphabet == codes.DEFAULT_ALPHABET and batch.mac_binding
    assert len(rows) == 500 and len({v.code for v in rows}) == 500
    for voucher in rows:
        assert voucher.status is VoucherStatus.NEW
        assert voucher.code.startswith("HS") and len(voucher.code) == 8
        assert set(voucher.code[2:]) <= set(codes.DEFAULT_ALPHABET)
        assert not set(voucher.code[2:]) & set("0O1IL")


async def test_price_defaults_to_the_package_and_can_be_set(unit_of_work, add_package):
    package_id = await add_package(price=5_000)
    cheap = await make_batch(unit_of_work, package_id, price=4_500, alphabet="ABCDEFGHJK")
    async with unit_of_work() as session:
        batch = await session.get(VoucherBatch, cheap)
        assert batch.price == 4_500 and batch.alphabet == "ABCDEFGHJK"
        codes_ = await session.scalars(select(Voucher.code).where(Voucher.batch_id == cheap))
        assert all(set(code) <= set("ABCDEFGHJK") for code in codes_)


async def test_codes_that_collide_with_existing_ones_are_drawn_again(
    unit_of_work, add_package, monkeypatch
):
    package_id = await add_package()
    first = await make_batch(unit_of_work, package_id, count=5)
    async with unit_of_work() as session:
        taken = list(await session.scalars(select(Voucher.code).where(Voucher.batch_id == first)))
    real = codes.random_codes
    draws = []

    def colliding(count, length, alphabet, prefix):
        # The first draw repeats every existing code (and itself), then real draws follow.
        drawn = taken + taken[:1] + real(count - len(taken) - 1, length, alphabet, prefix)
        result = drawn if not draws else real(count, length, alphabet, prefix)
        draws.append(count)
        return result

    monkeypatch.setattr(codes, "random_codes", colliding)
    second = await make_batch(unit_of_work, package_id, count=12)
    async with unit_of_work() as session:
        made = list(await session.scalars(select(Voucher.code).where(Voucher.batch_id == second)))
    assert draws == [12, 6]  # six of the twelve collided (five old ones, one repeated)
    assert len(made) == 12 and not set(made) & set(taken)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 100_001}, "count"),
        ({"count": "10"}, "count"),
        ({"price": -1}, "price"),
        ({"price": 10.5}, "price"),
        ({"code_length": 5}, "code_length"),
        ({"code_length": 6, "count": 100_000}, "code_length"),
        ({"alphabet": "ABCDEFGHJ0"}, "alphabet"),
        ({"alphabet": "ABC"}, "alphabet"),
        ({"prefix": "TOO-LONG-PREFIX"}, "prefix"),
        ({"unused_expires_at": NOW - timedelta(days=1)}, "unused_expires_at"),
        ({"unused_expires_at": datetime(2027, 1, 1)}, "unused_expires_at"),
        ({"commission_bp": 500}, "commission_bp"),
        ({"reseller_id": 999_999}, "reseller_id"),
        ({"package_id": 999_999}, "package_id"),
    ],
)
async def test_bad_specs_name_their_field(unit_of_work, add_package, fields, field):
    package_id = fields.pop("package_id", None) or await add_package()
    with pytest.raises(VoucherError) as caught:
        await make_batch(unit_of_work, package_id, **fields)
    assert caught.value.field == field
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(VoucherBatch)) == 0


async def test_only_hotspot_packages_on_sale_make_batches(unit_of_work, add_package):
    pppoe = await add_package()
    async with unit_of_work() as session:
        package = await session.get(Package, pppoe)
        package.service_type = ServiceType.PPPOE
    with pytest.raises(VoucherError, match="not a hotspot package"):
        await make_batch(unit_of_work, pppoe)
    archived = await add_package()
    async with unit_of_work() as session:
        (await session.get(Package, archived)).archived_at = NOW
    with pytest.raises(VoucherError, match="archived"):
        await make_batch(unit_of_work, archived)


async def test_finding_a_voucher_by_code_as_typed(unit_of_work, add_package):
    batch_id = await make_batch(unit_of_work, await add_package(), count=3, prefix="KI")
    async with unit_of_work() as session:
        code = await session.scalar(select(Voucher.code).where(Voucher.batch_id == batch_id))
        typed = " " + "-".join([code[:4].lower(), code[4:]]) + " "
        assert (await batches.find_voucher(session, typed)).code == code
        with pytest.raises(VoucherNotFound):
            await batches.find_voucher(session, "KIZZZZZZZZ")


async def _set_states(unit_of_work, batch_id, states):
    """Put the batch's first vouchers in `states` (by hand: redemption is elsewhere)."""
    async with unit_of_work() as session:
        vouchers = list(
            await session.scalars(
                select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id)
            )
        )
        for voucher, state in zip(vouchers, states, strict=False):
            voucher.status = state
            if state in (VoucherStatus.ACTIVE, VoucherStatus.USED_UP):
                voucher.activated_at = NOW
        return [v.id for v in vouchers]


async def test_revoking_a_batch_spares_used_up_and_expired_vouchers(unit_of_work, add_package):
    batch_id = await make_batch(unit_of_work, await add_package(), count=6)
    states = [VoucherStatus.USED_UP, VoucherStatus.EXPIRED, VoucherStatus.SOLD]
    ids = await _set_states(unit_of_work, batch_id, states)
    async with unit_of_work() as session:
        assert await batches.revoke_batch(session, batch_id, actor_label="ops", now=NOW) == 4
    async with unit_of_work() as session:
        statuses = dict(
            (
                await session.execute(select(Voucher.id, Voucher.status).where(Voucher.id.in_(ids)))
            ).all()
        )
        batch = await session.get(VoucherBatch, batch_id)
        assert batch.revoked_at == NOW
        assert await batches.revoke_batch(session, batch_id, now=NOW) == 0
    assert [statuses[i] for i in ids] == [
        VoucherStatus.USED_UP,
        VoucherStatus.EXPIRED,
        *[VoucherStatus.REVOKED] * 4,
    ]


async def test_revoking_an_active_voucher_ends_its_service(unit_of_work, add_package):
    package_id = await add_package()
    batch_id = await make_batch(unit_of_work, package_id, count=2)
    ids = await _set_states(unit_of_work, batch_id, [VoucherStatus.ACTIVE])
    async with unit_of_work() as session:
        subscriber = Subscriber(account_number="WALKIN-T", name="Hotspot walk-in")
        session.add(subscriber)
        await session.flush()
        service = Service(
            subscriber_id=subscriber.id,
            package_id=package_id,
            service_type=ServiceType.HOTSPOT,
            username="VOUCHER1",
            status=ServiceStatus.ACTIVE,
            activated_at=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
        session.add(service)
        await session.flush()
        await session.execute(
            update(Voucher).where(Voucher.id == ids[0]).values(service_id=service.id)
        )
        service_id = service.id
    async with unit_of_work() as session:
        voucher = await batches.revoke_voucher(session, ids[0], reason="lost", now=NOW)
        assert voucher.status is VoucherStatus.REVOKED
    async with unit_of_work() as session:
        assert (await session.get(Service, service_id)).status is ServiceStatus.TERMINATED
        with pytest.raises(VoucherError) as caught:
            await batches.revoke_voucher(session, ids[0], now=NOW)
        assert caught.value.status_code == 409


async def test_the_job_expires_unused_vouchers_once_their_batch_date_passes(
    unit_of_work, add_package, tenant
):
    package_id = await add_package()
    due = NOW + timedelta(days=30)
    soon = await make_batch(unit_of_work, package_id, count=4, unused_expires_at=due)
    later = await make_batch(
        unit_of_work, package_id, count=2, unused_expires_at=due + timedelta(days=9)
    )
    never = await make_batch(unit_of_work, package_id, count=2)
    ids = await _set_states(unit_of_work, soon, [VoucherStatus.ACTIVE, VoucherStatus.SOLD])
    async with unit_of_work() as session:
        assert await batches.expire_unused(session, now=due - timedelta(seconds=1)) == 0
        assert await batches.expire_unused(session, now=due) == 3
    async with unit_of_work() as session:
        counts = await batches.status_counts(session, [soon, later, never])
    assert counts[soon]["expired"] == 3 and counts[soon]["active"] == 1
    assert counts[later]["new"] == 2 and counts[never]["new"] == 2
    assert (
        ids[0]
        and assemble().job_registry().periodics["vouchers.expire_unused"]
        is jobs.vouchers_expire_unused
    )


async def test_csv_export_lists_every_voucher_of_the_batch(unit_of_work, add_package):
    package_id = await add_package(price=2_000)
    batch_id = await make_batch(unit_of_work, package_id, count=25)
    await _set_states(unit_of_work, batch_id, [VoucherStatus.ACTIVE])
    async with unit_of_work() as session:
        batch = await session.get(VoucherBatch, batch_id)
        package_name = (await session.get(Package, package_id)).name
        text = "".join([chunk async for chunk in export.batch_csv(session, batch, chunk_rows=7)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(export.COLUMNS)
    assert len(rows) == 25 and len({r["code"] for r in rows}) == 25
    assert rows[0]["status"] == "active" and rows[0]["activated_at"] == NOW.isoformat()
    assert {r["package"] for r in rows} == {package_name} and rows[1]["price"] == "2000"
    assert rows[1]["currency"] == "KES"


async def test_the_expiry_job_runs_through_a_real_worker(
    tenant, unit_of_work, add_package, worker_settings, jobs_harness
):
    assert jobs.vouchers_expire_unused.name in assemble().job_registry().periodics
    expire = jobs.vouchers_expire_unused
    voucher_jobs = JobRegistry()
    voucher_jobs.periodic(expire.name, cron="*/5 * * * *")(expire.fn)
    now = datetime.now(UTC)
    batch_id = await make_batch(
        unit_of_work, await add_package(), count=3, unused_expires_at=now + timedelta(days=1)
    )
    async with unit_of_work() as session:
        # The batch's date has since passed.
        (await session.get(VoucherBatch, batch_id)).unused_expires_at = now - timedelta(minutes=1)
    minute = now.replace(second=0, microsecond=0)
    async with jobs_harness.running(worker_settings(voucher_jobs)) as worker:
        await worker.pool.enqueue_job(
            expire.function_name,
            tenant.slug,
            minute.isoformat(),
            _job_id=periodic_job_id(expire.name, tenant.slug, minute),
        )
        await jobs_harness.until(lambda: worker.jobs_complete + worker.jobs_failed >= 1)
    assert worker.jobs_failed == 0
    async with unit_of_work() as session:
        assert (await batches.status_counts(session, [batch_id]))[batch_id]["expired"] == 3
