"""Who a phone is and how their account stands, read through the self-service layer."""

from __future__ import annotations

import pytest
from kiunga.channels.selfservice import accounts
from kiunga.channels.selfservice.errors import NotYours, SelfServiceError
from kiunga.platform.errors import Kind
from kiunga.tenants.mpesa.config import SettingsChange, update_settings
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus


async def test_a_phone_finds_its_accounts_however_it_is_typed(customer, unit_of_work, tenant):
    first = await customer("+254712345678", service=False)
    second = await customer("+254712345678", service=False, name="Otieno Shop")
    await customer("+254799000111", service=False)
    async with unit_of_work() as session:
        for typed in ("0712 345 678", "254712345678", "+254712345678", "712345678"):
            found = await accounts.accounts_for_phone(session, typed)
            assert [a.subscriber_id for a in found] == [first.subscriber_id, second.subscriber_id]
        assert await accounts.chosen_account(session, "0712345678") is None
        chosen = await accounts.choose_account(
            session, phone="0712345678", subscriber_id=second.subscriber_id
        )
        assert chosen.account_number == second.account_number
    async with unit_of_work() as session:
        assert (await accounts.chosen_account(session, "0712345678")).subscriber_id == (
            second.subscriber_id
        )
        with pytest.raises(NotYours):
            await accounts.choose_account(
                session, phone="0799000111", subscriber_id=first.subscriber_id
            )
        with pytest.raises(SelfServiceError) as refused:
            await accounts.accounts_for_phone(session, "not a phone\x00")
        assert refused.value.field == "phone"


async def test_terminated_accounts_and_other_isps_are_not_found(
    customer, unit_of_work, make_tenant
):
    other = make_tenant("other")
    await customer("+254712345670", service=False, schema=other)
    gone = await customer("+254712345670", service=False)
    async with unit_of_work() as session:
        (await session.get(Subscriber, gone.subscriber_id)).status = SubscriberStatus.TERMINATED
    async with unit_of_work() as session:
        assert await accounts.accounts_for_phone(session, "0712345670") == []
    async with unit_of_work(other) as session:
        assert len(await accounts.accounts_for_phone(session, "0712345670")) == 1


async def test_the_summary_of_a_paid_prepaid_account(customer, unit_of_work):
    paid = await customer(price=150_000)
    async with unit_of_work() as session:
        summary = await accounts.account_summary(session, paid.subscriber_id)
    assert summary.account_number == paid.account_number
    assert summary.service_status == "active" and summary.status == "active"
    assert summary.billing_type == "prepaid" and summary.price == 150_000
    assert summary.expires_at is not None and summary.expires_at.tzinfo is not None
    assert summary.balance == 0 and summary.amount_due == 0
    # The next month needs the price again: what the pay menu offers.
    assert summary.suggested_payment == 150_000
    assert summary.currency == "KES"
    assert summary.last_payment.amount == 150_000 and summary.last_payment.reference


async def test_an_unpaid_account_suggests_the_price_rounded_to_shillings(customer, unit_of_work):
    waiting = await customer(price=99_950, paid=False)
    async with unit_of_work() as session:
        summary = await accounts.account_summary(session, waiting.subscriber_id)
    assert summary.service_status == "pending" and summary.last_payment is None
    assert summary.suggested_payment == 100_000


async def test_paying_by_hand_names_the_paybill_and_account(customer, unit_of_work):
    someone = await customer(service=False)
    async with unit_of_work() as session:
        with pytest.raises(SelfServiceError) as refused:
            await accounts.payment_instructions(session, someone.subscriber_id)
        assert refused.value.kind is Kind.UNAVAILABLE
        await update_settings(session, SettingsChange(shortcode="654321"))
    async with unit_of_work() as session:
        by_hand = await accounts.payment_instructions(session, someone.subscriber_id)
    assert (by_hand.method, by_hand.business_number) == ("paybill", "654321")
    assert by_hand.account_number == someone.account_number
    async with unit_of_work() as session:
        await update_settings(
            session, SettingsChange(shortcode_type="till", shortcode="174379", till_number="998877")
        )
    async with unit_of_work() as session:
        by_hand = await accounts.payment_instructions(session, someone.subscriber_id)
    assert (by_hand.method, by_hand.business_number, by_hand.account_number) == (
        "till",
        "998877",
        None,
    )
