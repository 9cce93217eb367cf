"""Sales and agents against the real database: commission arithmetic, marking sold (by id or
code, confined to the agent), idempotent sales, a redemption counted as a sale, summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kiunga.tenants.vouchers import batches, sales
from kiunga.tenants.vouchers.batches import BatchSpec
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from kiunga.tenants.vouchers.models import SaleChannel, Voucher, VoucherSale, VoucherStatus
from sqlalchemy import func, select

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("price", "bp", "commission"),
    [(2_000, 1_000, 200), (1_999, 1_000, 199), (1_999, 1_250, 249), (5, 9_999, 4), (0, 500, 0)],
)
def test_commission_is_rounded_down_to_the_minor_unit(price, bp, commission):
    assert sales.commission_of(price, bp) == commission


async def agent_batch(unit_of_work, package_id, reseller_id=None, **fields) -> list[int]:
    """A batch (assigned to the agent when given); its voucher ids."""
    async with unit_of_work() as session:
        spec = BatchSpec(package_id=package_id, count=fields.pop("count", 5), **fields)
        spec.reseller_id = reseller_id
        batch = await batches.create_batch(session, spec, now=NOW)
        ids = await session.scalars(
            select(Voucher.id).where(Voucher.batch_id == batch.id).order_by(Voucher.id)
        )
        return list(ids)


async def test_an_agent_sells_vouchers_and_earns_commission(
    unit_of_work, add_package, add_reseller
):
    package_id = await add_package(price=1_999)
    agent = await add_reseller("Mama Njeri")
    ids = await agent_batch(unit_of_work, package_id, agent, commission_bp=1_250)
    async with unit_of_work() as session:
        code = (await session.get(Voucher, ids[1])).code
        sold = await sales.sell_vouchers(
            session, voucher_ids=[ids[0]], codes=[code.lower()], actor_label="njeri", now=NOW
        )
    assert [(s.price, s.commission, s.channel, s.reseller_id) for s in sold] == [
        (1_999, 249, SaleChannel.AGENT, agent)
    ] * 2
    async with unit_of_work() as session:
        first = await session.get(Voucher, ids[0])
        assert (first.status, first.sold_at) == (VoucherStatus.SOLD, NOW)
        # Asked again (a retry), the same sales come back; nothing is sold twice.
        again = await sales.sell_vouchers(session, voucher_ids=ids[:2], actor_label="njeri")
        assert sorted(s.id for s in again) == sorted(s.id for s in sold)
        assert await session.scalar(select(func.count()).select_from(VoucherSale)) == 2


async def test_an_agent_cannot_sell_another_agents_vouchers(
    unit_of_work, add_package, add_reseller
):
    package_id = await add_package()
    mine, theirs = await add_reseller(), await add_reseller()
    their_ids = await agent_batch(unit_of_work, package_id, theirs, commission_bp=500)
    await agent_batch(unit_of_work, package_id, mine, commission_bp=500)
    async with unit_of_work() as session:
        with pytest.raises(VoucherNotFound) as caught:
            await sales.sell_vouchers(session, voucher_ids=their_ids[:1], reseller_id=mine)
        assert caught.value.field == "voucher_ids"
        with pytest.raises(VoucherNotFound):
            await batches.get_voucher(session, their_ids[0], reseller_id=mine)


async def test_ended_or_used_vouchers_are_not_sold(unit_of_work, add_package):
    ids = await agent_batch(unit_of_work, await add_package(), count=3)
    async with unit_of_work() as session:
        await batches.revoke_voucher(session, ids[0], now=NOW)
        voucher = await session.get(Voucher, ids[1])
        voucher.status, voucher.activated_at = VoucherStatus.ACTIVE, NOW
    for wanted in ids[:2]:
        async with unit_of_work() as session:
            with pytest.raises(VoucherError) as caught:
                await sales.sell_vouchers(session, voucher_ids=[wanted, ids[2]])
            assert caught.value.status_code == 409
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(VoucherSale)) == 0
        with pytest.raises(VoucherError) as caught:
            await sales.sell_vouchers(session)
        assert caught.value.field == "voucher_ids"


async def test_a_redemption_of_an_unsold_voucher_counts_as_its_sale(
    unit_of_work, add_package, add_reseller
):
    agent = await add_reseller()
    ids = await agent_batch(
        unit_of_work, await add_package(price=2_000), agent, commission_bp=1_000
    )
    async with unit_of_work() as session:
        voucher = await session.get(Voucher, ids[0])
        voucher.status, voucher.activated_at = VoucherStatus.ACTIVE, NOW
        sale = await sales.record_sale(
            session, voucher, channel=SaleChannel.REDEMPTION, actor_label="portal", now=NOW
        )
        assert (sale.channel, sale.commission, sale.reseller_id) == (
            SaleChannel.REDEMPTION,
            200,
            agent,
        )
        # Redemption keeps the voucher active; a second call returns the same sale.
        assert voucher.status is VoucherStatus.ACTIVE and voucher.sold_at == NOW
        again = await sales.record_sale(
            session, voucher, channel=SaleChannel.REDEMPTION, actor_label="portal"
        )
        assert again.id == sale.id


async def test_agent_summaries_add_up(unit_of_work, add_package, add_reseller):
    package_id = await add_package(price=2_000)
    achieng, baraka = await add_reseller("Achieng"), await add_reseller("Baraka")
    a_ids = await agent_batch(unit_of_work, package_id, achieng, count=10, commission_bp=1_000)
    await agent_batch(unit_of_work, package_id, achieng, count=5, commission_bp=500)
    b_ids = await agent_batch(unit_of_work, package_id, baraka, count=4, commission_bp=2_500)
    await agent_batch(unit_of_work, package_id, None, count=3)
    async with unit_of_work() as session:
        await sales.sell_vouchers(session, voucher_ids=a_ids[:3], now=NOW)
        await sales.sell_vouchers(session, voucher_ids=b_ids[:1], now=NOW)
        redeemed = await session.get(Voucher, a_ids[5])
        redeemed.status, redeemed.activated_at = VoucherStatus.ACTIVE, NOW
        await sales.record_sale(
            session, redeemed, channel=SaleChannel.REDEMPTION, actor_label="portal"
        )
    async with unit_of_work() as session:
        summary = await sales.agent_summaries(session)
        only_baraka = await sales.agent_summaries(session, reseller_id=baraka)
    assert [(s.name, s.batches, s.assigned, s.sold, s.redeemed) for s in summary] == [
        ("Achieng", 2, 15, 4, 1),
        ("Baraka", 1, 4, 1, 0),
    ]
    assert [(s.sales_total, s.commission, s.currency) for s in summary] == [
        (8_000, 800, "KES"),
        (2_000, 500, "KES"),
    ]
    assert [s.name for s in only_baraka] == ["Baraka"]


async def test_sold_today_counts_from_the_isps_midnight(unit_of_work, add_package):
    ids = await agent_batch(unit_of_work, await add_package(), count=3)
    # 22:30 UTC on 28 February is 01:30 on 1 March in Nairobi.
    nairobi_night = datetime(2026, 2, 28, 22, 30, tzinfo=UTC)
    async with unit_of_work() as session:
        await sales.sell_vouchers(session, voucher_ids=ids[:1], now=nairobi_night)
        await sales.sell_vouchers(
            session, voucher_ids=ids[1:2], now=nairobi_night - timedelta(hours=2)
        )
    async with unit_of_work() as session:
        assert await sales.count_sold_today(session, now=NOW) == 1


async def test_a_sale_once_written_is_never_changed(unit_of_work, add_package):
    """Like the ledger, voucher sales are append-only (a trigger refuses the rest)."""
    from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
    from sqlalchemy import delete, text, update
    from sqlalchemy.exc import DBAPIError

    ids = await agent_batch(unit_of_work, await add_package(), count=1)
    async with unit_of_work() as session:
        await sales.sell_vouchers(session, voucher_ids=ids, actor_label="counter", now=NOW)
        schema = session.info[TENANT_SCHEMA_KEY]
    for statement in (
        update(VoucherSale).values(price=0),
        delete(VoucherSale),
        text(f'TRUNCATE "{schema}".voucher_sales CASCADE'),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with unit_of_work() as session:
                await session.execute(statement)
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(VoucherSale)) == 1
