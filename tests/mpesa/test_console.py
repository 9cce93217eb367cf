"""The console's M-Pesa pages by role: owners set M-Pesa up (secrets never shown back),
finance asks subscribers to pay and assigns unmatched payments, support only looks."""

from __future__ import annotations

from kiunga.platform.models import StaffRole
from kiunga.tenants.billing import ledger
from kiunga.tenants.mpesa.api import GATEWAY_FACTORY_KEY
from kiunga.tenants.mpesa.models import MpesaRequest, MpesaTransaction
from sqlalchemy import select

from .conftest import c2b_body
from .fakes import FakeDaraja


async def _signed_in(isp, role, make_staff, login, client_for):
    client = client_for(isp.host)
    answer = await login(client, make_staff(isp.id, role=role))
    assert answer.status_code in (302, 303), answer.text
    return client


async def test_owner_sets_up_mpesa_and_sees_the_callback_urls(
    make_isp, make_staff, login, client_for, csrf_token_in, app
):
    isp = await make_isp()
    fake = FakeDaraja()
    app.state[GATEWAY_FACTORY_KEY] = fake
    owner = await _signed_in(isp, StaffRole.OWNER, make_staff, login, client_for)
    page = await owner.get("/mpesa/settings")
    assert page.status_code == 200
    assert f"/hooks/daraja/{isp.token}/c2b/confirmation" in page.text
    token = csrf_token_in(page.text)
    form = {
        "_csrf_token": token, "environment": "production", "shortcode_type": "paybill",
        "shortcode": "654321", "passkey": "very-secret-passkey", "allowed_sources": "",
    }  # fmt: skip
    saved = await owner.post("/mpesa/settings", data=form)
    assert saved.status_code == 303
    page = await owner.get("/mpesa/settings")
    assert 'value="654321"' in page.text and "very-secret-passkey" not in page.text
    bad = await owner.post("/mpesa/settings", data={**form, "shortcode": "12x"})
    assert bad.status_code == 400 and "very-secret-passkey" not in bad.text
    tested = await owner.post("/mpesa/settings/test-connection", data={"_csrf_token": token})
    assert tested.status_code == 303 and "Connected" in tested.headers["location"]
    rotated = await owner.post("/mpesa/settings/rotate-token", data={"_csrf_token": token})
    assert rotated.status_code == 303
    assert len(fake.registrations) == 1
    page = await owner.get("/mpesa/settings")
    assert isp.token not in page.text


async def test_finance_requests_a_payment_and_assigns_an_unmatched_one(
    isp, make_staff, login, client_for, csrf_token_in, app, add_subscriber, session_for
):
    fake = FakeDaraja()
    app.state[GATEWAY_FACTORY_KEY] = fake
    subscriber = await add_subscriber(isp, phone="+254712345678")
    finance = await _signed_in(isp, StaffRole.FINANCE, make_staff, login, client_for)
    assert (await finance.get("/mpesa/settings")).status_code == 403

    page = await finance.get(f"/mpesa/requests/new?subscriber_id={subscriber.id}")
    assert page.status_code == 200 and "+254712345678" in page.text
    token = csrf_token_in(page.text)
    form = {"_csrf_token": token, "subscriber_id": str(subscriber.id), "phone": "0712345678"}
    bad = await finance.post("/mpesa/requests", data={**form, "amount": "12.5"})
    assert bad.status_code == 400 and "whole number of shillings" in bad.text
    sent = await finance.post("/mpesa/requests", data={**form, "amount": "1500"})
    assert sent.status_code == 303, sent.text
    assert fake.pushes[-1]["amount_minor"] == 150_000
    listing = await finance.get(sent.headers["location"])
    assert "Pending" in listing.text and "1,500" in listing.text
    async with session_for(isp) as session:
        request = await session.scalar(select(MpesaRequest))
        assert request.requested_by.startswith("staff")

    await client_for("x").post(
        isp.hook("c2b/confirmation"), json=c2b_body("RKC1", "200", "unknown", "2547****149")
    )
    page = await finance.get("/mpesa/unmatched")
    assert "RKC1" in page.text
    async with session_for(isp) as session:
        waiting = await session.scalar(select(MpesaTransaction))
    assigned = await finance.post(
        f"/mpesa/unmatched/{waiting.id}/assign",
        data={"_csrf_token": token, "account_number": subscriber.account_number.lower()},
    )
    assert assigned.status_code == 303, assigned.text
    async with session_for(isp) as session:
        assert await ledger.balance(session, subscriber.id) == 20_000


async def test_support_looks_but_does_not_move_money(
    isp, make_staff, login, client_for, csrf_token_in
):
    await client_for("x").post(isp.hook("c2b/confirmation"), content=b"not json")
    support = await _signed_in(isp, StaffRole.SUPPORT, make_staff, login, client_for)
    assert (await support.get("/mpesa/unmatched")).status_code == 200
    flagged = await support.get("/mpesa/flagged")
    assert flagged.status_code == 200 and "malformed" in flagged.text
    page = await support.get("/mpesa/requests")
    assert page.status_code == 200 and "Request M-Pesa payment" not in page.text
    assert (await support.get("/mpesa/requests/new")).status_code == 403
    token = csrf_token_in(page.text)
    refused = await support.post(
        "/mpesa/unmatched/1/assign", data={"_csrf_token": token, "account_number": "A1"}
    )
    assert refused.status_code == 403
