"""The vouchers API over HTTP against the real app: batches, vouchers, revoking, CSV, sales,
the agents' summary; bad input named by field; an agent's key confined to its own batches;
another ISP's batch not found."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from kiunga.tenants.vouchers import batches
from kiunga.tenants.vouchers.batches import BatchSpec

from fixtures.web import auth


async def api_batch(client, token, package_id, **fields):
    answer = await client.post(
        "/api/v1/voucher-batches",
        json={"package_id": package_id, "count": 10, **fields},
        headers=auth(token),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_batch_made_looked_at_and_its_vouchers_listed(
    client_for, tenant, voucher_key, add_package, add_reseller
):
    package_id = await add_package(price=2_000)
    agent = await add_reseller("Kamau")
    client = client_for(tenant.host)
    expires = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    batch = await api_batch(
        client,
        voucher_key,
        package_id,
        count=30,
        prefix="ki",
        code_length=6,
        unused_expires_at=expires,
        reseller_id=agent,
        commission_bp=1_000,
        mac_binding=True,
    )
    assert (batch["count"], batch["price"], batch["currency"], batch["prefix"]) == (
        30,
        2_000,
        "KES",
        "KI",
    )
    assert batch["statuses"]["new"] == 30 and batch["mac_binding"] is True
    assert batch["created_by"].startswith("api_key:")

    got = await client.get(f"/api/v1/voucher-batches/{batch['id']}", headers=auth(voucher_key))
    assert got.status_code == 200 and got.json()["reseller_id"] == agent
    listed = await client.get("/api/v1/voucher-batches", headers=auth(voucher_key))
    assert [b["id"] for b in listed.json()["items"]] == [batch["id"]]

    page = await client.get(
        f"/api/v1/voucher-batches/{batch['id']}/vouchers",
        params={"limit": 25, "offset": 0},
        headers=auth(voucher_key),
    )
    body = page.json()
    assert (body["total"], len(body["items"])) == (30, 25)
    code = body["items"][0]["code"]
    assert code.startswith("KI") and len(code) == 8

    found = await client.get(
        "/api/v1/vouchers", params={"code": code.lower()}, headers=auth(voucher_key)
    )
    assert found.status_code == 200 and found.json()["id"] == body["items"][0]["id"]
    missing = await client.get(
        "/api/v1/vouchers", params={"code": "KIXXXXXX"}, headers=auth(voucher_key)
    )
    assert missing.status_code == 404


async def test_bad_input_is_named_by_field(client_for, tenant, voucher_key, add_package):
    package_id = await add_package()
    client = client_for(tenant.host)
    cases = [
        ({"package_id": package_id, "count": 10, "price": 10.5}, "price"),
        ({"package_id": package_id, "count": 0}, "count"),
        ({"package_id": package_id, "count": 10, "alphabet": "O0I1LABCDEFG"}, "alphabet"),
        ({"package_id": package_id, "count": 10, "commission_bp": 20_000}, "commission_bp"),
        ({"package_id": 123_456, "count": 10}, "package_id"),
        ({"package_id": package_id, "count": 10, "colour": "red"}, "colour"),
        ({"count": 10}, "package_id"),
    ]
    for body, field in cases:
        answer = await client.post("/api/v1/voucher-batches", json=body, headers=auth(voucher_key))
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == [field], (body, answer.text)
    status = await client.get(
        "/api/v1/voucher-batches/1/vouchers", params={"status": "lost"}, headers=auth(voucher_key)
    )
    assert status.status_code == 400


async def test_revoking_one_voucher_and_then_the_batch(
    client_for, tenant, voucher_key, add_package
):
    client = client_for(tenant.host)
    batch = await api_batch(client, voucher_key, await add_package(), count=5)
    vouchers = (
        await client.get(
            f"/api/v1/voucher-batches/{batch['id']}/vouchers", headers=auth(voucher_key)
        )
    ).json()["items"]
    one = await client.post(
        f"/api/v1/vouchers/{vouchers[0]['id']}/revoke",
        json={"reason": "misprinted"},
        headers=auth(voucher_key),
    )
    assert one.status_code == 200 and one.json()["status"] == "revoked"
    twice = await client.post(
        f"/api/v1/vouchers/{vouchers[0]['id']}/revoke", headers=auth(voucher_key)
    )
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "voucher_id"
    whole = await client.post(
        f"/api/v1/voucher-batches/{batch['id']}/revoke", headers=auth(voucher_key)
    )
    assert whole.status_code == 200
    assert whole.json()["revoked"] == 4
    assert whole.json()["batch"]["statuses"]["revoked"] == 5
    assert whole.json()["batch"]["revoked_at"] is not None
    revoked = await client.get(
        f"/api/v1/voucher-batches/{batch['id']}/vouchers",
        params={"status": "revoked"},
        headers=auth(voucher_key),
    )
    assert revoked.json()["total"] == 5


async def test_csv_export_streams_the_batch(client_for, tenant, voucher_key, add_package):
    client = client_for(tenant.host)
    batch = await api_batch(client, voucher_key, await add_package(price=1_500), count=2_500)
    answer = await client.get(
        f"/api/v1/voucher-batches/{batch['id']}/export.csv", headers=auth(voucher_key)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f"vouchers-batch-{batch['id']}.csv" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 2_500 and len({r["code"] for r in rows}) == 2_500
    assert {r["status"] for r in rows} == {"new"} and {r["price"] for r in rows} == {"1500"}


async def test_sales_by_code_listed_and_summed_per_agent(
    client_for, tenant, voucher_key, add_package, add_reseller
):
    client = client_for(tenant.host)
    agent = await add_reseller("Wafula")
    batch = await api_batch(
        client,
        voucher_key,
        await add_package(price=2_000),
        count=5,
        reseller_id=agent,
        commission_bp=750,
    )
    items = (
        await client.get(
            f"/api/v1/voucher-batches/{batch['id']}/vouchers", headers=auth(voucher_key)
        )
    ).json()["items"]
    sold = await client.post(
        "/api/v1/voucher-sales",
        json={"codes": [items[0]["code"]], "voucher_ids": [items[1]["id"]]},
        headers=auth(voucher_key),
    )
    assert sold.status_code == 201, sold.text
    assert (sold.json()["total_price"], sold.json()["total_commission"]) == (4_000, 300)
    assert {s["channel"] for s in sold.json()["items"]} == {"agent"}
    listed = (await client.get("/api/v1/voucher-sales", headers=auth(voucher_key))).json()
    assert listed["total"] == 2
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    none_yet = await client.get(
        "/api/v1/voucher-sales", params={"since": later}, headers=auth(voucher_key)
    )
    assert none_yet.json()["total"] == 0
    before = await client.get(
        "/api/v1/voucher-sales", params={"until": later}, headers=auth(voucher_key)
    )
    assert before.json()["total"] == 2
    naive = await client.get(
        "/api/v1/voucher-sales", params={"since": "2026-01-01T00:00:00"}, headers=auth(voucher_key)
    )
    assert naive.status_code == 400 and naive.json()["errors"][0]["field"] == "since"
    assert {s["code"] for s in listed["items"]} == {items[0]["code"], items[1]["code"]}
    summary = (await client.get("/api/v1/agents/summary", headers=auth(voucher_key))).json()
    assert summary == [
        {
            "reseller_id": agent,
            "name": "Wafula",
            "batches": 1,
            "assigned": 5,
            "sold": 2,
            "redeemed": 0,
            "sales_total": 4_000,
            "commission": 300,
            "currency": "KES",
        }
    ]
    empty = await client.post("/api/v1/voucher-sales", json={}, headers=auth(voucher_key))
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "voucher_ids"


async def test_an_agents_key_sees_and_sells_only_its_own_batches(
    client_for, tenant, voucher_key, reseller_key, make_key, add_package, add_reseller
):
    client = client_for(tenant.host)
    package_id = await add_package()
    mine, theirs = await add_reseller("Mine"), await add_reseller("Theirs")
    my_batch = await api_batch(client, voucher_key, package_id, reseller_id=mine)
    their_batch = await api_batch(client, voucher_key, package_id, reseller_id=theirs)
    unassigned = await api_batch(client, voucher_key, package_id)
    key = reseller_key(mine)

    listed = (await client.get("/api/v1/voucher-batches", headers=auth(key))).json()
    assert [b["id"] for b in listed["items"]] == [my_batch["id"]]
    for batch in (their_batch, unassigned):
        for path in ("", "/vouchers", "/export.csv"):
            answer = await client.get(
                f"/api/v1/voucher-batches/{batch['id']}{path}", headers=auth(key)
            )
            assert answer.status_code == 404, (path, answer.text)
    assert (
        await client.get(f"/api/v1/voucher-batches/{my_batch['id']}/vouchers", headers=auth(key))
    ).status_code == 200

    their_voucher = (
        await client.get(
            f"/api/v1/voucher-batches/{their_batch['id']}/vouchers", headers=auth(voucher_key)
        )
    ).json()["items"][0]
    for path in (f"/api/v1/vouchers/{their_voucher['id']}", "/api/v1/vouchers"):
        answer = await client.get(path, params={"code": their_voucher["code"]}, headers=auth(key))
        assert answer.status_code == 404
    stolen = await client.post(
        "/api/v1/voucher-sales", json={"codes": [their_voucher["code"]]}, headers=auth(key)
    )
    assert stolen.status_code == 404 and stolen.json()["errors"][0]["field"] == "codes"

    # An agent neither makes nor revokes batches, whatever scopes the key carries.
    made = await client.post(
        "/api/v1/voucher-batches", json={"package_id": package_id, "count": 5}, headers=auth(key)
    )
    assert made.status_code == 403
    revoke = await client.post(
        f"/api/v1/voucher-batches/{my_batch['id']}/revoke", headers=auth(key)
    )
    assert revoke.status_code == 403

    my_voucher = (
        await client.get(f"/api/v1/voucher-batches/{my_batch['id']}/vouchers", headers=auth(key))
    ).json()["items"][0]
    sold = await client.post(
        "/api/v1/voucher-sales", json={"voucher_ids": [my_voucher["id"]]}, headers=auth(key)
    )
    assert sold.status_code == 201
    assert [s["reseller_id"] for s in sold.json()["items"]] == [mine]
    summary = (await client.get("/api/v1/agents/summary", headers=auth(key))).json()
    assert [s["name"] for s in summary] == ["Mine"]
    sales = (await client.get("/api/v1/voucher-sales", headers=auth(key))).json()
    assert sales["total"] == 1

    reader = make_key(tenant.id, scopes=("vouchers:read",))
    refused = await client.post(
        "/api/v1/voucher-sales", json={"voucher_ids": [my_voucher["id"]]}, headers=auth(reader)
    )
    assert refused.status_code == 403


async def test_another_isps_batch_is_not_found(
    client_for, tenant, make_tenant, make_key, voucher_key, add_package, unit_of_work
):
    other = make_tenant("vchx")
    other_package = await add_package(schema=other.schema)
    async with unit_of_work(other.schema) as session:
        foreign = await batches.create_batch(session, BatchSpec(package_id=other_package, count=3))
        foreign_id = foreign.id
    client = client_for(tenant.host)
    # The same id is free here (nothing made yet), so a leak would show as 200.
    for path in ("", "/vouchers", "/export.csv"):
        answer = await client.get(
            f"/api/v1/voucher-batches/{foreign_id}{path}", headers=auth(voucher_key)
        )
        assert answer.status_code == 404
    # Another ISP's key on this ISP's host is refused outright.
    other_key = make_key(other.id, scopes=("vouchers:read",))
    answer = await client.get("/api/v1/voucher-batches", headers=auth(other_key))
    assert answer.status_code in (401, 403, 404)


async def test_the_voucher_endpoints_are_in_the_openapi_document(client_for, base_host):
    schema = (await client_for(base_host).get("/docs/openapi.json")).json()
    assert {
        "/api/v1/voucher-batches",
        "/api/v1/voucher-batches/{batch_id}",
        "/api/v1/voucher-batches/{batch_id}/revoke",
        "/api/v1/voucher-batches/{batch_id}/vouchers",
        "/api/v1/voucher-batches/{batch_id}/export.csv",
        "/api/v1/vouchers",
        "/api/v1/vouchers/{voucher_id}/revoke",
        "/api/v1/voucher-sales",
        "/api/v1/agents/summary",
    } <= set(schema["paths"])
    assert not any(path.startswith("/vouchers") for path in schema["paths"])


async def test_a_printed_batch_handed_to_an_agent_later(
    client_for, tenant, voucher_key, reseller_key, add_package, add_reseller
):
    client = client_for(tenant.host)
    agent = await add_reseller("Later")
    batch = await api_batch(client, voucher_key, await add_package(price=2_000), count=4)
    key = reseller_key(agent)
    assert (
        await client.get(f"/api/v1/voucher-batches/{batch['id']}", headers=auth(key))
    ).status_code == 404
    path = f"/api/v1/voucher-batches/{batch['id']}/assign"
    bad = await client.post(
        path, json={"reseller_id": agent, "commission_bp": -5}, headers=auth(voucher_key)
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "commission_bp"
    refused = await client.post(path, json={"reseller_id": agent}, headers=auth(key))
    assert refused.status_code == 403
    assigned = await client.post(
        path, json={"reseller_id": agent, "commission_bp": 1_500}, headers=auth(voucher_key)
    )
    assert assigned.status_code == 200
    assert (assigned.json()["reseller_id"], assigned.json()["commission_bp"]) == (agent, 1_500)
    vouchers = (
        await client.get(f"/api/v1/voucher-batches/{batch['id']}/vouchers", headers=auth(key))
    ).json()["items"]
    sold = await client.post(
        "/api/v1/voucher-sales", json={"voucher_ids": [vouchers[0]["id"]]}, headers=auth(key)
    )
    assert sold.json()["total_commission"] == 300


async def test_csv_export_writes_formula_like_text_as_text(
    client_for, tenant, voucher_key, add_package, unit_of_work
):
    from kiunga.tenants.catalog.models import Package

    package_id = await add_package()
    formula = '=HYPERLINK("http://evil.example","pay here")'
    async with unit_of_work() as session:
        (await session.get(Package, package_id)).name = formula
    client = client_for(tenant.host)
    batch = await api_batch(client, voucher_key, package_id, count=2)
    answer = await client.get(
        f"/api/v1/voucher-batches/{batch['id']}/export.csv", headers=auth(voucher_key)
    )
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["package"] for r in rows} == {"'" + formula}
    assert {r["price"] for r in rows} == {"2000"}
