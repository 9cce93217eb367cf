"""Billing console pages: lists, an invoice, the record-a-payment form, a statement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kiunga.platform.models import StaffRole
from kiunga.tenants.billing import invoices
from kiunga.tenants.billing.console.formatting import format_money, parse_money
from kiunga.tenants.billing.errors import BillingError
from kiunga.tenants.billing.invoices import InvoiceLineInput
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import select

from .conftest import CASHIER, JAN


async def account_number(unit_of_work, subscriber_id) -> str:
    async with unit_of_work() as session:
        return await session.scalar(
            select(Subscriber.account_number).where(Subscriber.id == subscriber_id)
        )


def test_money_is_read_and_typed_without_floats():
    assert format_money(150_050, "KES") == "KES 1,500.50"
    assert format_money(-5_000, "KES") == "-KES 50.00"
    assert format_money(1_500, "UGX") == "UGX 1,500"
    assert parse_money("1,500.50", "KES") == 150_050
    assert parse_money("KES 20", "KES") == 2_000
    for bad in ("-1", "0", "1.005", "abc", "", "NaN", "Infinity"):
        with pytest.raises(BillingError):
            parse_money(bad, "KES")
    with pytest.raises(BillingError, match="decimal places"):
        parse_money("10.5", "UGX")


async def test_finance_records_a_payment_and_reads_the_statement(
    signed_in, csrf_token_in, unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    async with unit_of_work() as session:
        invoice = await invoices.issue_invoice(
            session, subscriber_id, [InvoiceLineInput("Home 10 Mbps", 1, 250_000)],
            due_at=JAN + timedelta(days=7), actor=CASHIER, issued_at=JAN,
        )  # fmt: skip
    account = await account_number(unit_of_work, subscriber_id)
    client = await signed_in(StaffRole.FINANCE)

    form = await client.get("/payments")
    assert form.status_code == 200 and "Record a payment" in form.text
    token = csrf_token_in(form.text)
    fields = {"account_number": account, "method": "mpesa", "reference": "QKC1",
              "payer_phone": "0712345678", "_csrf_token": token}  # fmt: skip
    bad = await client.post("/payments", data={**fields, "amount": "12.345"})
    assert bad.status_code == 400 and "decimal places" in bad.text
    recorded = await client.post("/payments", data={**fields, "amount": "2,500"})
    assert recorded.status_code == 303, recorded.text
    listed = await client.get(recorded.headers["location"])
    assert "RCT-000001" in listed.text and "KES 2,500.00" in listed.text

    page = await client.get(f"/invoices/{invoice.id}")
    assert page.status_code == 200
    assert "INV-000001" in page.text and "Payment RCT-000001" in page.text and "paid" in page.text
    statement = await client.get(f"/subscribers/{subscriber_id}/statement")
    assert statement.status_code == 200
    assert "KES -2,500.00" not in statement.text and "-KES 2,500.00" in statement.text
    listing = await client.get("/invoices", params={"status": "paid", "account": account})
    assert "INV-000001" in listing.text
    await check_invariants()


async def test_refused_payment_writes_nothing(
    signed_in, csrf_token_in, add_subscriber, unit_of_work, check_invariants
):
    from kiunga.tenants.subscribers.models import SubscriberStatus

    subscriber_id = await add_subscriber(SubscriberStatus.TERMINATED)
    account = await account_number(unit_of_work, subscriber_id)
    client = await signed_in(StaffRole.OWNER)
    token = csrf_token_in((await client.get("/payments")).text)
    answer = await client.post(
        "/payments",
        data={"account_number": account, "amount": "100", "method": "cash", "_csrf_token": token},
    )
    assert answer.status_code == 400 and "terminated" in answer.text
    assert "No payments." in answer.text
    await check_invariants()


async def test_support_reads_but_has_no_payment_form(signed_in, csrf_token_in):
    client = await signed_in(StaffRole.SUPPORT)
    page = await client.get("/payments")
    assert page.status_code == 200 and "Record a payment" not in page.text
    answer = await client.post(
        "/payments", data={"amount": "100", "_csrf_token": csrf_token_in(page.text)}
    )
    assert answer.status_code == 403
    assert (await client.get("/invoices")).status_code == 200


async def test_technician_sees_no_billing_pages(signed_in):
    client = await signed_in(StaffRole.TECHNICIAN)
    assert (await client.get("/invoices")).status_code == 403
