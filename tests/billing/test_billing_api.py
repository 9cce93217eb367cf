"""The billing API: documents, idempotent payments, bad money named, scopes and roles."""

from __future__ import annotations

import pytest
from kiunga.platform.models import StaffRole
from kiunga.tenants.billing.models import LedgerEntry, Payment
from kiunga.tenants.subscribers.models import SubscriberStatus
from sqlalchemy import func, select

WRITE = ("billing:read", "billing:write")


@pytest.fixture
def api(tenant, make_key, client_for):
    client = client_for(tenant.host)
    client.headers["Authorization"] = f"Bearer {make_key(tenant.id, scopes=WRITE)}"
    return client


async def written(unit_of_work) -> tuple[int, int]:
    """(payments, ledger entries) in the tenant."""
    async with unit_of_work() as session:
        payments = await session.scalar(select(func.count()).select_from(Payment))
        entries = await session.scalar(select(func.count()).select_from(LedgerEntry))
        return payments, entries


def invoice_body(subscriber_id, *amounts, issue=True):
    lines = [{"description": f"Line {n}", "unit_price": a} for n, a in enumerate(amounts)]
    return {
        "subscriber_id": subscriber_id,
        "lines": lines,
        "due_at": "2026-02-01T00:00:00Z",
        "issue": issue,
    }


async def test_invoice_payment_statement_round_trip(api, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    draft = await api.post(
        "/api/v1/invoices", json=invoice_body(subscriber_id, 100_000, issue=False)
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["status"] == "draft" and draft.json()["number"] is None
    issued = await api.post(f"/api/v1/invoices/{draft.json()['id']}/issue")
    assert issued.status_code == 200, issued.text
    assert issued.json()["number"] == "INV-000001" and issued.json()["remaining"] == 100_000

    paid = await api.post(
        "/api/v1/payments",
        json={"subscriber_id": subscriber_id, "amount": 130_000, "method": "mpesa",
              "reference": "QKX1", "payer_phone": "0712345678"},
    )  # fmt: skip
    assert paid.status_code == 201, paid.text
    payment = paid.json()
    assert payment["receipt_number"] == "RCT-000001" and payment["payer_phone"] == "+254712345678"
    assert payment["allocations"] == [
        {**payment["allocations"][0], "invoice_id": draft.json()["id"], "amount": 100_000}
    ]
    again = await api.post(
        "/api/v1/payments",
        json={"subscriber_id": subscriber_id, "amount": 130_000, "method": "mpesa",
              "reference": "QKX1"},
    )  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == payment["id"]
    other_subscriber = await add_subscriber()
    for changed in ({"amount": 130_001}, {"subscriber_id": other_subscriber}):
        clash = await api.post(
            "/api/v1/payments",
            json={"subscriber_id": subscriber_id, "amount": 130_000, "method": "mpesa",
                  "reference": "QKX1", **changed},
        )  # fmt: skip
        assert clash.status_code == 409, clash.text
        assert [e["field"] for e in clash.json()["errors"]] == ["reference"]
        assert "QKX1" in clash.json()["detail"]

    invoice = (await api.get(f"/api/v1/invoices/{draft.json()['id']}")).json()
    assert invoice["status"] == "paid" and invoice["allocations"][0]["payment_id"] == payment["id"]

    balance = (await api.get(f"/api/v1/subscribers/{subscriber_id}/balance")).json()
    assert balance == {"subscriber_id": subscriber_id, "currency": "KES", "balance": 30_000,
                       "open_amount": 0, "amount_due": 0}  # fmt: skip
    statement = (await api.get(f"/api/v1/subscribers/{subscriber_id}/statement")).json()
    assert [(e["kind"], e["amount"], e["running_balance"]) for e in statement["entries"]] == [
        ("invoice", -100_000, -100_000),
        ("payment", 130_000, 30_000),
    ]
    assert statement["entries"][1]["posted_by"]["kind"] == "api_key"
    await check_invariants()


async def test_lists_filter_and_paginate(api, add_subscriber, check_invariants):
    one, other = await add_subscriber(), await add_subscriber()
    for subscriber_id in (one, one, other):
        created = await api.post("/api/v1/invoices", json=invoice_body(subscriber_id, 10_000))
        assert created.status_code == 201, created.text
    await api.post("/api/v1/invoices", json=invoice_body(one, 5_000, issue=False))
    page = (await api.get("/api/v1/invoices", params={"subscriber_id": one, "limit": 2})).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["limit"] == 2
    drafts = (await api.get("/api/v1/invoices", params={"status": "draft"})).json()
    assert [i["subscriber_id"] for i in drafts["items"]] == [one]
    future = await api.get("/api/v1/invoices", params={"issued_from": "2100-01-01T00:00:00Z"})
    assert future.json()["total"] == 0
    bad = await api.get("/api/v1/invoices", params={"status": "lost"})
    assert bad.status_code == 400
    await check_invariants()


@pytest.mark.parametrize(
    ("amount", "message"),
    [(-500, "more than zero"), (0, "zero"), (12.5, None), ("12.50", None), (None, None)],
)
async def test_bad_money_is_refused_naming_the_field(
    api, add_subscriber, unit_of_work, check_invariants, amount, message
):
    subscriber_id = await add_subscriber()
    for path, body in (
        ("/api/v1/payments", {"subscriber_id": subscriber_id, "amount": amount, "method": "cash"}),
        ("/api/v1/credit-notes", {"subscriber_id": subscriber_id, "amount": amount,
                                  "reason": "outage"}),
    ):  # fmt: skip
        answer = await api.post(path, json=body)
        assert answer.status_code == 400, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["amount"], answer.text
        if message:
            assert message in answer.json()["errors"][0]["message"]
    line = await api.post("/api/v1/invoices", json=invoice_body(subscriber_id, amount))
    assert line.status_code == 400, line.text
    assert line.json()["errors"][0]["field"] in ("lines[0].unit_price", "lines", "unit_price")
    await check_invariants()
    assert await written(unit_of_work) == (0, 0)


async def test_payment_to_terminated_subscriber_is_refused(
    api, add_subscriber, unit_of_work, check_invariants
):
    subscriber_id = await add_subscriber(SubscriberStatus.TERMINATED)
    answer = await api.post(
        "/api/v1/payments",
        json={"subscriber_id": subscriber_id, "amount": 1_000, "method": "mpesa",
              "reference": "QKT"},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == "subscriber_id"
    assert "terminated" in answer.json()["errors"][0]["message"]
    assert await written(unit_of_work) == (0, 0)
    missing = await api.post(
        "/api/v1/payments", json={"subscriber_id": 999_999, "amount": 1_000, "method": "cash"}
    )
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "subscriber_id"
    method = await api.post(
        "/api/v1/payments", json={"subscriber_id": subscriber_id, "amount": 1, "method": "gold"}
    )
    assert method.status_code == 400 and method.json()["errors"][0]["field"] == "method"
    await check_invariants()


async def test_void_credit_note_and_adjustment(api, add_subscriber, check_invariants):
    subscriber_id = await add_subscriber()
    first = (await api.post("/api/v1/invoices", json=invoice_body(subscriber_id, 50_000))).json()
    second = (await api.post("/api/v1/invoices", json=invoice_body(subscriber_id, 50_000))).json()
    voided = await api.post(f"/api/v1/invoices/{first['id']}/void", json={"reason": "duplicate"})
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    again = await api.post(f"/api/v1/invoices/{first['id']}/void", json={"reason": "again"})
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "status"

    note = await api.post(
        "/api/v1/credit-notes",
        json={"subscriber_id": subscriber_id, "amount": 20_000, "reason": "outage",
              "invoice_id": second["id"]},
    )  # fmt: skip
    assert note.status_code == 201 and note.json()["number"] == "CN-000001"
    refused = await api.post(f"/api/v1/invoices/{second['id']}/void", json={"reason": "x"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "invoice_id"

    adjustment = await api.post(
        "/api/v1/adjustments",
        json={"subscriber_id": subscriber_id, "amount": -1_500, "reason": "late fee"},
    )
    assert adjustment.status_code == 201 and adjustment.json()["amount"] == -1_500
    no_reason = await api.post(
        "/api/v1/adjustments", json={"subscriber_id": subscriber_id, "amount": 100, "reason": ""}
    )
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    notes = await api.get("/api/v1/credit-notes", params={"subscriber_id": subscriber_id})
    assert notes.json()["total"] == 1
    listed = (await api.get("/api/v1/adjustments")).json()
    assert [a["reason"] for a in listed["items"]] == ["late fee"]
    balance = (await api.get(f"/api/v1/subscribers/{subscriber_id}/balance")).json()
    assert balance["balance"] == -31_500 and balance["open_amount"] == 30_000
    assert (await api.get("/api/v1/invoices/999999")).status_code == 404
    await check_invariants()


async def test_scopes_guard_reads_and_writes(tenant, make_key, client_for, add_subscriber):
    subscriber_id = await add_subscriber()
    client = client_for(tenant.host)
    reader = {"Authorization": f"Bearer {make_key(tenant.id, scopes=('billing:read',))}"}
    outsider = {"Authorization": f"Bearer {make_key(tenant.id, scopes=('sites:read',))}"}
    body = {"subscriber_id": subscriber_id, "amount": 100, "method": "cash"}
    assert (await client.get("/api/v1/payments", headers=reader)).status_code == 200
    assert (await client.post("/api/v1/payments", json=body, headers=reader)).status_code == 403
    assert (await client.get("/api/v1/invoices", headers=outsider)).status_code == 403
    statement = f"/api/v1/subscribers/{subscriber_id}/statement"
    assert (await client.get(statement, headers=outsider)).status_code == 403
    assert (await client.get("/api/v1/invoices")).status_code == 401


@pytest.mark.parametrize(
    ("role", "can_write"),
    [(StaffRole.OWNER, True), (StaffRole.FINANCE, True), (StaffRole.SUPPORT, False)],
)
async def test_staff_roles(tenant, make_staff, login, client_for, add_subscriber, role,
                           can_write):  # fmt: skip
    subscriber_id = await add_subscriber()
    client = client_for(tenant.host)
    await login(client, make_staff(tenant.id, role=role))
    assert (await client.get("/api/v1/invoices")).status_code == 200
    # A console session writes through the API with its CSRF token, as htmx does.
    csrf = {"x-csrftoken": client.cookies["kiunga_csrf"]}
    answer = await client.post(
        "/api/v1/payments",
        json={"subscriber_id": subscriber_id, "amount": 100, "method": "cash"},
        headers=csrf,
    )
    assert answer.status_code in ((201,) if can_write else (403,)), answer.text


async def test_technician_sees_no_money(tenant, make_staff, login, client_for):
    client = client_for(tenant.host)
    await login(client, make_staff(tenant.id, role=StaffRole.TECHNICIAN))
    assert (await client.get("/api/v1/payments")).status_code == 403


async def test_a_reseller_key_sees_only_its_own_subscribers_money(
    tenant, engine, settings, client_for, unit_of_work, add_subscriber, check_invariants
):
    from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
    from kiunga.tenants.subscribers.models import Reseller, Subscriber

    async with unit_of_work() as session:
        reseller = Reseller(name="Mama Mboga Agency")
        session.add(reseller)
        await session.flush()
        reseller_id = reseller.id
    own, foreign = await add_subscriber(), await add_subscriber()
    async with unit_of_work() as session:
        (await session.get(Subscriber, own)).reseller_id = reseller_id
    request = KeyRequest(scopes=WRITE, tenant_id=tenant.id, reseller_id=reseller_id)
    key = create_api_key_sync(engine, request, secret_key=settings.secret_key).token
    client = client_for(tenant.host)
    client.headers["Authorization"] = f"Bearer {key}"

    for subscriber_id in (own, foreign):
        body = {"subscriber_id": subscriber_id, "amount": 1_000, "method": "cash"}
        answer = await client.post("/api/v1/payments", json=body)
        assert answer.status_code == (201 if subscriber_id == own else 404), answer.text
    listed = (await client.get("/api/v1/payments")).json()
    assert [p["subscriber_id"] for p in listed["items"]] == [own]
    hidden = await client.get(f"/api/v1/subscribers/{foreign}/balance")
    assert hidden.status_code == 404
    await check_invariants()


async def test_billing_endpoints_are_in_the_api_docs(client_for, base_host):
    schema = (await client_for(base_host).get("/docs/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/invoices",
        "/api/v1/invoices/{invoice_id}/void",
        "/api/v1/payments",
        "/api/v1/credit-notes",
        "/api/v1/adjustments",
        "/api/v1/subscribers/{subscriber_id}/statement",
        "/api/v1/subscribers/{subscriber_id}/balance",
    ):
        assert path in paths, path
    assert "PaymentRead" in str(paths["/api/v1/payments"]["post"])


async def test_a_malformed_payer_phone_is_refused(api, add_subscriber, unit_of_work):
    subscriber_id = await add_subscriber()
    answer = await api.post(
        "/api/v1/payments",
        json={"subscriber_id": subscriber_id, "amount": 100, "method": "mpesa",
              "payer_phone": "07-not-a-phone"},
    )  # fmt: skip
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "payer_phone"
    assert await written(unit_of_work) == (0, 0)
