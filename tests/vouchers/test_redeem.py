"""Redeeming vouchers: first use, re-login, every refusal, the same work for a refusal
whatever the code, the status page's figures, and the end of a voucher's service."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.models import Invoice
from kiunga.tenants.lifecycle.run import run_lifecycle
from kiunga.tenants.network.radius.models import UsagePeriod
from kiunga.tenants.services.credentials import decrypt_password
from kiunga.tenants.services.lifecycle import terminate_service
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from kiunga.tenants.vouchers.codes import random_codes
from kiunga.tenants.vouchers.models import (
    SaleChannel,
    Voucher,
    VoucherBatch,
    VoucherSale,
    VoucherStatus,
)
from kiunga.tenants.vouchers.redeem import RedeemRefused, redeem_voucher, revoke_live_service
from kiunga.tenants.vouchers.usage import voucher_usage
from kiunga.tenants.vouchers.walkin import WALK_IN_ACCOUNT
from sqlalchemy import event, func, select

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PHONE = "aa-bb-cc-00-11-22"
PHONE_MAC = "AA:BB:CC:00:11:22"
LAPTOP = "AA:BB:CC:00:11:33"
_numbers = itertools.count(1)


@pytest.fixture
def add_vouchers(unit_of_work):
    """A batch of `count` vouchers of a package; returns their codes."""

    async def add(
        package_id: int,
        count: int = 1,
        *,
        status: VoucherStatus = VoucherStatus.NEW,
        mac_binding: bool = False,
        unused_expires_at: datetime | None = None,
        revoked: bool = False,
        schema: str | None = None,
    ) -> list[str]:
        codes = random_codes(count, 8, prefix=f"T{next(_numbers)}")
        async with unit_of_work(schema) as session:
            batch = VoucherBatch(
                name="test",
                package_id=package_id,
                count=count,
                price=2_000,
                currency="KES",
                code_length=8,
                alphabet="23456789ABCDEFGHJKMNPQRSTUVWXYZ",
                mac_binding=mac_binding,
                unused_expires_at=unused_expires_at,
                revoked_at=NOW - timedelta(days=1) if revoked else None,
            )
            session.add(batch)
            await session.flush()
            session.add_all(Voucher(batch_id=batch.id, code=code, status=status) for code in codes)
        return codes

    return add


@pytest.fixture
def redeem(unit_of_work):
    """Redeem in a transaction of its own, as the portal does."""

    async def run(code: str, *, mac=PHONE, ip="10.5.0.20", now=NOW, schema=None, **extra):
        async with unit_of_work(schema) as session:
            return await redeem_voucher(session, code, mac=mac, ip=ip, now=now, **extra)

    return run


async def _voucher(unit_of_work, code: str) -> Voucher:
    async with unit_of_work() as session:
        return await session.scalar(select(Voucher).where(Voucher.code == code))


async def _service(unit_of_work, service_id: int) -> Service:
    async with unit_of_work() as session:
        return await session.get(Service, service_id)


async def _topics(unit_of_work, topic: str) -> list[dict]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
        )
        return list(rows)


async def test_first_use_opens_an_active_hotspot_service_without_an_invoice(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package(validity_count=2, data_cap_bytes=500_000_000)
    (code,) = await add_vouchers(package_id)

    typed = "-".join([code[:4].lower(), code[4:]])  # as a person types it off paper
    redeemed = await redeem(typed)

    assert redeemed.first_use is True
    assert redeemed.code == redeemed.password == code
    assert redeemed.expires_at == NOW + timedelta(hours=2)
    assert redeemed.data_cap_bytes == 500_000_000
    voucher = await _voucher(unit_of_work, code)
    assert voucher.status is VoucherStatus.ACTIVE
    assert (voucher.activated_at, voucher.expires_at) == (NOW, NOW + timedelta(hours=2))
    assert voucher.mac_address is None  # the batch does not bind
    assert voucher.service_id == redeemed.service_id
    service = await _service(unit_of_work, redeemed.service_id)
    assert service.status is ServiceStatus.ACTIVE
    assert service.username == code and decrypt_password(service.password_encrypted) == code
    assert (service.period_start, service.expires_at) == (NOW, NOW + timedelta(hours=2))
    assert service.activated_at == NOW and service.auto_renew is False
    async with unit_of_work() as session:
        holder = await session.get(Subscriber, service.subscriber_id)
        assert holder.account_number == WALK_IN_ACCOUNT
        assert holder.status is SubscriberStatus.ACTIVE
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 0
        sale = await session.scalar(select(VoucherSale).where(VoucherSale.voucher_id == voucher.id))
        assert sale.channel is SaleChannel.REDEMPTION and sale.price == 2_000
    (activated,) = await _topics(unit_of_work, "service.activated")
    assert activated["service_id"] == service.id and activated["status"] == "active"
    (news,) = await _topics(unit_of_work, "voucher.redeemed")
    assert news["voucher_id"] == voucher.id and news["first_use"] is True
    assert code not in str(news)  # the code is the password: never in an event


async def test_a_sold_voucher_keeps_its_sale_and_one_walk_in_subscriber_holds_them_all(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    codes = await add_vouchers(package_id, 3, status=VoucherStatus.SOLD)
    redeemed = [await redeem(code, mac=None) for code in codes]
    async with unit_of_work() as session:
        holders = set(
            await session.scalars(
                select(Service.subscriber_id).where(
                    Service.id.in_([r.service_id for r in redeemed])
                )
            )
        )
        assert len(holders) == 1
        # The vouchers were sold before (an agent): no sale at redemption.
        assert await session.scalar(select(func.count()).select_from(VoucherSale)) == 0


async def test_concurrent_first_uses_make_one_service_and_one_walk_in(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    first, second, third = await add_vouchers(package_id, 3)

    results = await asyncio.gather(redeem(first), redeem(first), redeem(second), redeem(third))

    assert sorted(r.first_use for r in results) == [False, True, True, True]
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Service)) == 3
        walk_ins = select(func.count()).where(Subscriber.account_number == WALK_IN_ACCOUNT)
        assert await session.scalar(walk_ins) == 1


async def test_a_voucher_bought_on_the_portal_belongs_to_its_buyer(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    (code,) = await add_vouchers(package_id, status=VoucherStatus.SOLD)
    async with unit_of_work() as session:
        buyer = Subscriber(account_number="P0001", name="+254712000001", status="lead")
        session.add(buyer)
        await session.flush()
        buyer_id = buyer.id

    redeemed = await redeem(code, subscriber_id=buyer_id)

    service = await _service(unit_of_work, redeemed.service_id)
    assert service.subscriber_id == buyer_id
    async with unit_of_work() as session:
        assert (await session.get(Subscriber, buyer_id)).status is SubscriberStatus.ACTIVE


async def test_again_from_the_same_device_or_another_when_the_batch_binds(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    (bound,) = await add_vouchers(package_id, mac_binding=True)
    (loose,) = await add_vouchers(package_id)

    first = await redeem(bound, mac=PHONE)
    again = await redeem(bound, mac=PHONE_MAC.lower(), now=NOW + timedelta(minutes=20))
    assert again.first_use is False
    assert (again.service_id, again.password, again.expires_at) == (
        first.service_id,
        first.password,
        first.expires_at,
    )
    voucher = await _voucher(unit_of_work, bound)
    assert voucher.mac_address == PHONE_MAC
    assert (await _service(unit_of_work, first.service_id)).mac_address == PHONE_MAC
    with pytest.raises(RedeemRefused) as refused:
        await redeem(bound, mac=LAPTOP)
    assert refused.value.reason == "other_device"
    assert "another device" in refused.value.message
    with pytest.raises(RedeemRefused) as refused:
        await redeem(bound, mac=None)
    assert refused.value.reason == "other_device"

    await redeem(loose, mac=PHONE)
    assert (await redeem(loose, mac=LAPTOP)).first_use is False
    assert (await _voucher(unit_of_work, loose)).mac_address is None


async def _refusal(redeem, code: str, now: datetime = NOW) -> str:
    with pytest.raises(RedeemRefused) as refused:
        await redeem(code, now=now)
    return refused.value.reason


async def test_every_refusal_says_why(add_package, add_vouchers, redeem, unit_of_work):
    package_id = await add_package(data_cap_bytes=1_000)
    (stale,) = await add_vouchers(package_id, unused_expires_at=NOW - timedelta(minutes=1))
    (fresh,) = await add_vouchers(package_id, unused_expires_at=NOW + timedelta(days=1))
    (withdrawn,) = await add_vouchers(package_id, revoked=True)
    (revoked,) = await add_vouchers(package_id, status=VoucherStatus.REVOKED)
    (expired,) = await add_vouchers(package_id, status=VoucherStatus.EXPIRED)
    timed, capped = await add_vouchers(package_id, 2)

    assert await _refusal(redeem, "NOSUCHCODE") == "unknown"
    assert await _refusal(redeem, "") == "unknown"
    assert await _refusal(redeem, stale) == "expired"
    assert await _refusal(redeem, expired) == "expired"
    assert await _refusal(redeem, withdrawn) == "revoked"
    assert await _refusal(redeem, revoked) == "revoked"
    assert (await redeem(fresh)).first_use is True

    await redeem(timed)
    assert await _refusal(redeem, timed, now=NOW + timedelta(hours=1)) == "used_up"
    service_id = (await redeem(capped)).service_id
    async with unit_of_work() as session:
        session.add(
            UsagePeriod(
                service_id=service_id, period_start=NOW, input_octets=400, output_octets=600
            )
        )
    assert await _refusal(redeem, capped) == "used_up"
    # Nothing written by a refusal: the stale voucher is still as printed.
    assert (await _voucher(unit_of_work, stale)).status is VoucherStatus.NEW


async def test_another_isps_code_is_unknown(
    add_package, add_vouchers, redeem, make_tenant, unit_of_work
):
    other = make_tenant("vch")
    package_id = await add_package(schema=other.schema)
    (theirs,) = await add_vouchers(package_id, schema=other.schema)
    assert await _refusal(redeem, theirs) == "unknown"
    assert (await redeem(theirs, schema=other.schema)).first_use is True


async def test_a_refusal_costs_the_same_statements_whatever_the_code(
    add_package, add_vouchers, redeem, database, tenant
):
    """No oracle: refusing an unknown code and refusing a known one (expired, revoked,
    used up) run the same statements, one indexed lookup."""
    package_id = await add_package()
    (stale,) = await add_vouchers(package_id, unused_expires_at=NOW - timedelta(minutes=1))
    (withdrawn,) = await add_vouchers(package_id, revoked=True)
    (used,) = await add_vouchers(package_id)
    await redeem(used)
    later = NOW + timedelta(hours=3)

    async def statements_for(code: str) -> list[str]:
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement.split()[0])

        async with database.tenant_session(tenant.schema) as session, session.begin():
            engine = (await session.connection()).engine.sync_engine
            event.listen(engine, "before_cursor_execute", count)
            try:
                with pytest.raises(RedeemRefused):
                    await redeem_voucher(session, code, mac=PHONE, ip=None, now=later)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return seen

    unknown = await statements_for("ZZZZ9999")
    assert unknown == ["SELECT"]
    for code in (stale, withdrawn, used):
        assert await statements_for(code) == unknown


async def test_the_status_page_figures(add_package, add_vouchers, redeem, unit_of_work):
    package_id = await add_package(data_cap_bytes=10_000)
    (code,) = await add_vouchers(package_id)
    async with unit_of_work() as session:
        assert await voucher_usage(session, "nothing-like-it", now=NOW) is None
        before = await voucher_usage(session, code, now=NOW)
    assert (before.status, before.seconds_left, before.bytes_left) == ("new", None, 10_000)

    redeemed = await redeem(code)
    async with unit_of_work() as session:
        session.add(
            UsagePeriod(
                service_id=redeemed.service_id,
                period_start=NOW,
                input_octets=1_000,
                output_octets=3_000,
            )
        )
    async with unit_of_work() as session:
        usage = await voucher_usage(session, code.lower(), now=NOW + timedelta(minutes=15))
        over = await voucher_usage(session, code, now=NOW + timedelta(hours=2))
    assert usage.status == "active" and usage.package_name.startswith("Hotspot")
    assert usage.seconds_left == 45 * 60 and usage.expires_at == NOW + timedelta(hours=1)
    assert (usage.bytes_used, usage.bytes_left, usage.data_cap_bytes) == (4_000, 6_000, 10_000)
    assert (over.status, over.seconds_left) == ("used_up", 0)


async def test_the_lifecycle_ends_a_voucher_with_its_validity(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    done, running = await add_vouchers(package_id, 2)
    ended = await redeem(done)
    live = await redeem(running, now=NOW + timedelta(minutes=50))

    async with unit_of_work() as session:
        report = await run_lifecycle(session, now=NOW + timedelta(hours=1, minutes=5))
    assert report.expired == 1
    assert report.reminded_due_soon == 0  # a voucher is not renewed by paying

    voucher = await _voucher(unit_of_work, done)
    assert voucher.status is VoucherStatus.USED_UP
    assert voucher.ended_at == NOW + timedelta(hours=1, minutes=5)
    service = await _service(unit_of_work, ended.service_id)
    assert service.status is ServiceStatus.TERMINATED  # off the routers and RADIUS caches
    assert (await _service(unit_of_work, live.service_id)).status is ServiceStatus.ACTIVE
    assert (await _voucher(unit_of_work, running)).status is VoucherStatus.ACTIVE
    (terminated,) = await _topics(unit_of_work, "service.terminated")
    assert terminated["service_id"] == ended.service_id
    assert terminated["reason"] == "voucher used up"
    assert await _topics(unit_of_work, "service.expired") == []
    async with unit_of_work() as session:
        holder = await session.get(Subscriber, service.subscriber_id)
        assert holder.status is SubscriberStatus.ACTIVE  # the walk-in stays usable
    assert await _refusal(redeem, done, now=NOW + timedelta(hours=2)) == "used_up"
    # A second run at the same time changes nothing.
    async with unit_of_work() as session:
        again = await run_lifecycle(session, now=NOW + timedelta(hours=1, minutes=5))
    assert again.expired == 0


async def test_revoking_an_active_voucher_ends_its_service(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    (code,) = await add_vouchers(package_id)
    redeemed = await redeem(code)
    async with unit_of_work() as session:
        voucher = await session.scalar(select(Voucher).where(Voucher.code == code))
        await revoke_live_service(session, voucher)
        voucher.status = VoucherStatus.REVOKED
    assert (await _service(unit_of_work, redeemed.service_id)).status is ServiceStatus.TERMINATED
    assert (await _voucher(unit_of_work, code)).ended_at is not None
    (terminated,) = await _topics(unit_of_work, "service.terminated")
    assert terminated["service_id"] == redeemed.service_id
    assert await _refusal(redeem, code) == "revoked"


async def test_a_service_staff_ended_ends_its_voucher_for_the_portal(
    add_package, add_vouchers, redeem, unit_of_work
):
    package_id = await add_package()
    (code,) = await add_vouchers(package_id)
    redeemed = await redeem(code)
    async with unit_of_work() as session:
        await terminate_service(
            session, redeemed.service_id, reason="abuse", actor=Actor.staff(1, "noc@isp.example")
        )
    assert await _refusal(redeem, code) == "used_up"
    async with unit_of_work() as session:
        assert (await voucher_usage(session, code, now=NOW)).status == "used_up"
        holder = await session.get(
            Subscriber, (await session.get(Service, redeemed.service_id)).subscriber_id
        )
        assert holder.status is SubscriberStatus.TERMINATED  # it followed its only service
    # The next voucher brings the walk-in account back.
    (following,) = await add_vouchers(package_id)
    await redeem(following)
    async with unit_of_work() as session:
        assert (await session.get(Subscriber, holder.id)).status is SubscriberStatus.ACTIVE
