"""The demo ISP's hotspot for `kiunga up`: two hotspot packages on sale on the captive
portal, the portal's look, and a batch of one-hour vouchers assigned to an agent (a shop
that sells them for cash at 10 % commission), so that a newcomer can print a sheet, redeem
a code on the portal and see RADIUS let that code in."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.subscribers.models import Reseller
from kiunga.tenants.vouchers.batches import BatchSpec, create_batch
from kiunga.tenants.vouchers.models import PortalSettings, Voucher, VoucherBatch, VoucherStatus
from sqlalchemy import select

HOUR_PACKAGE = "Hotspot 1 hour"
DAY_PACKAGE = "Hotspot 1 day"
AGENT_NAME = "Mama Njeri's shop"
AGENT_PHONE = "+254712000111"
BATCH_NAME = "Demo: 1 hour vouchers for Mama Njeri's shop"
BATCH_SIZE = 30
COMMISSION_BP = 1000  # 10 %


@dataclass(frozen=True)
class DemoHotspot:
    batch_id: int
    # Two codes nobody has used yet (None when the demo's batch is used up).
    sample_codes: tuple[str, ...]


def _hotspot_package(
    name: str, name_sw: str, price: int, count: int, unit: ValidityUnit, rate: str, cap
):
    return Package(
        name=name, name_sw=name_sw, description="", price=price, currency="KES",
        billing_type=BillingType.PREPAID, validity_count=count, validity_unit=unit,
        service_type=ServiceType.HOTSPOT, rate_limit=rate, data_cap_bytes=cap,
        shared_users=1, sold_on_portal=True,
    )  # fmt: skip


async def _seed(session) -> int:
    batch_id = await session.scalar(select(VoucherBatch.id).where(VoucherBatch.name == BATCH_NAME))
    if batch_id is not None:
        return batch_id
    hour = _hotspot_package(
        HOUR_PACKAGE, "Hotspot saa 1", 1_000, 1, ValidityUnit.HOUR, "2M/2M", None
    )
    day = _hotspot_package(
        DAY_PACKAGE, "Hotspot siku 1", 5_000, 1, ValidityUnit.DAY, "3M/3M", 1_000_000_000
    )
    agent = Reseller(name=AGENT_NAME, phone=AGENT_PHONE)
    session.add_all([hour, day, agent])
    if await session.get(PortalSettings, 1) is None:
        session.add(
            PortalSettings(
                id=1,
                title="Demo Wireless Hotspot",
                welcome="Fast Wi-Fi from KES 10. Buy with M-Pesa or enter a voucher.",
                welcome_sw="Wi-Fi ya kasi kuanzia KES 10. Nunua kwa M-Pesa au weka vocha.",
                support_phone="+254700000000",
            )
        )
    await session.flush()
    batch = await create_batch(
        session,
        BatchSpec(
            package_id=hour.id,
            count=BATCH_SIZE,
            name=BATCH_NAME,
            reseller_id=agent.id,
            commission_bp=COMMISSION_BP,
        ),  # fmt: skip
        created_by="demo",
    )
    return batch.id


async def seed_demo_hotspot(database_url: str, slug: str) -> DemoHotspot:
    """Idempotent: a second run finds the batch and only reads two unused codes."""
    database = Database(database_url, pool_size=2)
    try:
        async with database.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        async with database.tenant_session(tenant.schema_name) as session, session.begin():
            batch_id = await _seed(session)
            codes = await session.scalars(
                select(Voucher.code)
                .where(Voucher.batch_id == batch_id, Voucher.status == VoucherStatus.NEW)
                .order_by(Voucher.id)
                .limit(2)
            )
            sample = tuple(codes)
    finally:
        await database.dispose()
    return DemoHotspot(batch_id, sample)
