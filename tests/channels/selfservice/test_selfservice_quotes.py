"""Renew now and change package: the quote shown is what is charged, confirmed once, and
refused when anything changed since."""

from __future__ import annotations

import asyncio

import pytest
from kiunga.channels.selfservice import packages
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError
from kiunga.platform.errors import Kind
from kiunga.tenants.billing import ledger
from kiunga.tenants.billing.models import CreditNote, Invoice
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.services.lifecycle import activate_service, suspend_service
from kiunga.tenants.services.models import Service
from sqlalchemy import func, select

from .conftest import STAFF, pay


async def test_renewing_now_charges_the_quote_and_moves_the_expiry(
    customer, unit_of_work, database, tenant, check_invariants
):
    me = await customer(price=150_000)
    await pay(unit_of_work, me.subscriber_id, 150_000)
    async with unit_of_work() as session:
        quote = await packages.renewal_quote(session, me.subscriber_id)
        before = (await session.get(Service, me.service_id)).expires_at
    assert quote.charge == 150_000 and quote.credit == 0 and quote.to_pay == 0
    assert quote.current_expiry == before and quote.new_expiry > before
    assert quote.balance == 150_000 and quote.balance_after == 0

    async def confirm():
        async with database.tenant_session(tenant.schema) as session, session.begin():
            return await packages.renew_now(
                session, subscriber_id=me.subscriber_id, phone=me.phone, token=quote.token
            )

    # Two confirmations of one quote at once (a double tap): one renewal, one refusal.
    outcomes = await asyncio.gather(confirm(), confirm(), return_exceptions=True)
    assert sum(isinstance(o, SelfServiceError) for o in outcomes) == 1, outcomes
    async with unit_of_work() as session:
        service = await session.get(Service, me.service_id)
        assert service.expires_at == quote.new_expiry
        assert await ledger.balance(session, me.subscriber_id) == 0
    await check_invariants()


async def test_renewing_without_the_money_says_what_to_pay(customer, unit_of_work):
    me = await customer(price=150_000)
    async with unit_of_work() as session:
        quote = await packages.renewal_quote(session, me.subscriber_id)
        assert quote.to_pay == 150_000
        with pytest.raises(SelfServiceError) as refused:
            await packages.renew_now(
                session, subscriber_id=me.subscriber_id, phone=me.phone, token=quote.token
            )
        assert refused.value.field == "amount" and refused.value.kind is Kind.CONFLICT


async def test_a_price_changed_after_the_quote_refuses_the_confirmation(customer, unit_of_work):
    me = await customer(price=150_000)
    await pay(unit_of_work, me.subscriber_id, 300_000)
    async with unit_of_work() as session:
        quote = await packages.renewal_quote(session, me.subscriber_id)
    async with unit_of_work() as session:
        (await session.get(Package, me.package_id)).price = 200_000
    async with unit_of_work() as session:
        with pytest.raises(SelfServiceError) as refused:
            await packages.renew_now(
                session, subscriber_id=me.subscriber_id, phone=me.phone, token=quote.token
            )
        assert refused.value.kind is Kind.CONFLICT
        for token in ("", "renew:1:2", "x" * 500, quote.token.replace("renew", "change")):
            with pytest.raises(SelfServiceError):
                await packages.renew_now(
                    session, subscriber_id=me.subscriber_id, phone=me.phone, token=token
                )


async def test_a_package_change_charges_exactly_the_proration_quoted(
    customer, unit_of_work, add_package, check_invariants
):
    me = await customer(price=150_000)
    bigger = await add_package(price=300_000, name_sw="Kubwa")
    await pay(unit_of_work, me.subscriber_id, 300_000)
    async with unit_of_work() as session:
        offered = await packages.packages_to_change_to(session, me.subscriber_id)
        assert bigger in [p.id for p in offered]
        quote = await packages.change_quote(session, me.subscriber_id, bigger)
    assert quote.kind == "change" and quote.package_name_sw == "Kubwa"
    assert 0 < quote.credit <= 150_000 and 0 < quote.charge <= 300_000
    assert quote.new_expiry == quote.current_expiry
    async with unit_of_work() as session:
        await packages.change_now(
            session, subscriber_id=me.subscriber_id, phone=me.phone, token=quote.token
        )
    async with unit_of_work() as session:
        service = await session.get(Service, me.service_id)
        assert service.package_id == bigger
        credited = await session.scalar(
            select(func.sum(CreditNote.amount)).where(CreditNote.subscriber_id == me.subscriber_id)
        )
        charged = await session.scalar(
            select(Invoice.total)
            .where(Invoice.subscriber_id == me.subscriber_id)
            .order_by(Invoice.id.desc())
            .limit(1)
        )
        assert (credited, charged) == (quote.credit, quote.charge)
        assert await ledger.balance(session, me.subscriber_id) == quote.balance_after
        # Someone else's phone cannot confirm it.
        with pytest.raises(NotYours):
            await packages.change_now(
                session, subscriber_id=me.subscriber_id, phone="+254700000001", token=quote.token
            )
    await check_invariants()


async def test_a_postpaid_account_has_nothing_to_renew(customer, unit_of_work):
    me = await customer(billing_type="postpaid", paid=False)
    async with unit_of_work() as session:
        await activate_service(session, me.service_id, actor=STAFF)
    async with unit_of_work() as session:
        with pytest.raises(SelfServiceError, match="postpaid"):
            await packages.renewal_quote(session, me.subscriber_id)


async def test_a_suspended_service_is_neither_renewed_nor_changed_by_its_subscriber(
    customer, unit_of_work, add_package
):
    me = await customer(price=150_000)
    other = await add_package(price=200_000)
    async with unit_of_work() as session:
        await suspend_service(session, me.service_id, reason="tampering", actor=STAFF)
    async with unit_of_work() as session:
        for quote in (
            packages.renewal_quote(session, me.subscriber_id),
            packages.change_quote(session, me.subscriber_id, other),
        ):
            with pytest.raises(SelfServiceError, match="suspended"):
                await quote


async def test_a_voucher_login_is_not_renewed_here(customer, unit_of_work, tenant):
    from kiunga.tenants.vouchers.redeem import redeem_voucher

    from fixtures.vouchers import voucher_of

    me = await customer(service=False)
    code = await voucher_of(unit_of_work, tenant.schema)
    async with unit_of_work() as session:
        await redeem_voucher(
            session, code, mac="AA:BB:CC:00:11:22", ip=None, subscriber_id=me.subscriber_id
        )
    async with unit_of_work() as session:
        with pytest.raises(NotYours):
            await packages.renewal_quote(session, me.subscriber_id)
