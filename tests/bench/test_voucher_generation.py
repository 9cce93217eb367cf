"""Voucher generation: 100,000 vouchers in one batch, goal under 5 s.

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_voucher_generation.py -s
-p no:cacheprovider`. The timed part is `create_batch` and the commit, as the API runs it:
the checks, 100,000 codes drawn from the CSPRNG, and the INSERT … SELECT unnest(codes) with
ON CONFLICT DO NOTHING. A second batch of the same size follows into the now populated
table (its codes checked against the first's by the same unique index), then the CSV export
of a batch is timed too. KIUNGA_BENCH_VOUCHERS changes the size.
"""

from __future__ import annotations

import os
import time

from kiunga.platform.db.engine import Database
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.vouchers import batches, export
from kiunga.tenants.vouchers.batches import BatchSpec
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import func, select

COUNT = int(os.environ.get("KIUNGA_BENCH_VOUCHERS", "100000"))
GOAL_SECONDS = 5.0


async def test_one_hundred_thousand_vouchers(make_tenant, database_url):
    tenant = make_tenant("vbench")
    database = Database(database_url, pool_size=2)
    try:
        async with database.tenant_session(tenant.schema) as session, session.begin():
            package = Package(
                name="Hotspot 1 hour",
                price=2_000,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=1,
                validity_unit=ValidityUnit.HOUR,
                service_type=ServiceType.HOTSPOT,
                rate_limit="2M/2M",
            )
            session.add(package)
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            async with database.tenant_session(tenant.schema) as session, session.begin():
                spec = BatchSpec(package_id=package.id, count=COUNT, code_length=8)
                batch = await batches.create_batch(session, spec)
            timings.append(time.perf_counter() - started)
        async with database.tenant_session(tenant.schema) as session, session.begin():
            made = await session.scalar(select(func.count(func.distinct(Voucher.code))))
            started = time.perf_counter()
            size = 0
            async for chunk in export.batch_csv(session, batch):
                size += len(chunk)
            export_seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    first, second = timings
    print(
        f"\nvoucher generation: {COUNT:,} vouchers in {first:.2f} s "
        f"({COUNT / first:,.0f}/s; goal < {GOAL_SECONDS:.0f} s); "
        f"a second {COUNT:,} into the populated table {second:.2f} s; "
        f"CSV export of one batch {export_seconds:.2f} s ({size / 1e6:.1f} MB)"
    )
    assert made == 2 * COUNT
    assert first < GOAL_SECONDS and second < GOAL_SECONDS
