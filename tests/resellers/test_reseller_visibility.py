"""A reseller's API key sees only its own subscribers: in subscribers, services, billing and
tickets, anyone else's answers 404 (or is left out of a list), as if it did not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from kiunga.platform.auth.api_keys import ApiKeyError
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from sqlalchemy.orm import Session

from fixtures.web import auth

DUE = datetime(2026, 2, 1, tzinfo=UTC).isoformat()


@dataclass
class World:
    api: object  # the ISP's own client, with a key holding every scope
    own: dict  # headers of reseller A's key
    mine: int  # reseller A's subscriber
    theirs: int  # reseller B's subscriber
    house: int  # the ISP's own subscriber, no reseller
    reseller_a: int
    reseller_b: int


@pytest.fixture
async def world(client_for, tenant, full_key, reseller_key) -> World:
    api = client_for(tenant.host)
    api.headers.update(auth(full_key))
    a = (await api.post("/api/v1/resellers", json={"name": "Agent A"})).json()["id"]
    b = (await api.post("/api/v1/resellers", json={"name": "Agent B"})).json()["id"]

    async def subscriber(name, reseller_id):
        made = await api.post(
            "/api/v1/subscribers",
            json={"name": name, "reseller_id": reseller_id, "status": "active"},
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]

    return World(
        api=api,
        own=auth(reseller_key(a)),
        mine=await subscriber("Mine Wanjiru", a),
        theirs=await subscriber("Theirs Otieno", b),
        house=await subscriber("House Kamau", None),
        reseller_a=a,
        reseller_b=b,
    )


async def test_subscribers(world):
    api, own = world.api, world.own
    listed = (await api.get("/api/v1/subscribers", headers=own)).json()
    assert [s["id"] for s in listed["items"]] == [world.mine]
    asked = await api.get(
        "/api/v1/subscribers", params={"reseller_id": world.reseller_b}, headers=own
    )
    assert [s["id"] for s in asked.json()["items"]] == [world.mine]
    for other in (world.theirs, world.house):
        assert (await api.get(f"/api/v1/subscribers/{other}", headers=own)).status_code == 404
        changed = await api.patch(f"/api/v1/subscribers/{other}", json={"name": "X"}, headers=own)
        assert changed.status_code == 404
        history = await api.get(f"/api/v1/subscribers/{other}/history", headers=own)
        assert history.status_code == 404
    # A reseller cannot hand its subscriber to another reseller.
    kept = await api.patch(
        f"/api/v1/subscribers/{world.mine}",
        json={"name": "Mine W.", "reseller_id": world.reseller_b},
        headers=own,
    )
    assert kept.status_code == 200 and kept.json()["reseller_id"] == world.reseller_a
    made = await api.post(
        "/api/v1/subscribers", json={"name": "New", "reseller_id": None}, headers=own
    )
    assert made.json()["reseller_id"] == world.reseller_a


async def test_services(world, engine, tenant):
    api, own = world.api, world.own
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session, session.begin():
        package = Package(
            name="Home 5", price=150_000, currency="KES", billing_type=BillingType.POSTPAID,
            validity_count=1, validity_unit=ValidityUnit.MONTH, service_type=ServiceType.PPPOE,
            rate_limit="5M/10M",
        )  # fmt: skip
        session.add(package)
        session.flush()
        package_id = package.id
    ids = {}
    for who in ("mine", "theirs", "house"):
        made = await api.post(
            "/api/v1/services",
            json={"subscriber_id": getattr(world, who), "package_id": package_id},
        )
        assert made.status_code == 201, made.text
        ids[who] = made.json()["id"]
    listed = (await api.get("/api/v1/services", headers=own)).json()
    assert [s["id"] for s in listed["items"]] == [ids["mine"]]
    for other in ("theirs", "house"):
        assert (await api.get(f"/api/v1/services/{ids[other]}", headers=own)).status_code == 404
        acted = await api.post(f"/api/v1/services/{ids[other]}/suspend", headers=own)
        assert acted.status_code == 404
    refused = await api.post(
        "/api/v1/services",
        json={"subscriber_id": world.theirs, "package_id": package_id},
        headers=own,
    )
    assert refused.status_code == 404


async def test_billing(world):
    api, own = world.api, world.own
    invoices, payments = {}, {}
    for n, who in enumerate(("mine", "theirs", "house")):
        subscriber_id = getattr(world, who)
        made = await api.post(
            "/api/v1/invoices",
            json={"subscriber_id": subscriber_id, "due_at": DUE, "issue": True,
                  "lines": [{"description": "Home 5", "unit_price": 150_000}]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        invoices[who] = made.json()["id"]
        paid = await api.post(
            "/api/v1/payments",
            json={"subscriber_id": subscriber_id, "amount": 50_000, "method": "mpesa",
                  "reference": f"QV{n}"},
        )  # fmt: skip
        payments[who] = paid.json()["id"]
        for path, body in (
            ("/api/v1/credit-notes", {"amount": 1_000, "reason": "outage"}),
            ("/api/v1/adjustments", {"amount": -500, "reason": "cable"}),
        ):
            noted = await api.post(path, json={"subscriber_id": subscriber_id, **body})
            assert noted.status_code == 201, noted.text

    for path in (
        "/api/v1/invoices",
        "/api/v1/payments",
        "/api/v1/credit-notes",
        "/api/v1/adjustments",
    ):
        listed = (await api.get(path, headers=own)).json()
        assert [item["subscriber_id"] for item in listed["items"]] == [world.mine], path
        assert listed["total"] == 1, path
    assert (await api.get(f"/api/v1/invoices/{invoices['mine']}", headers=own)).status_code == 200
    for other in ("theirs", "house"):
        subscriber_id = getattr(world, other)
        for path in (
            f"/api/v1/invoices/{invoices[other]}",
            f"/api/v1/payments/{payments[other]}",
            f"/api/v1/subscribers/{subscriber_id}/balance",
            f"/api/v1/subscribers/{subscriber_id}/statement",
        ):
            assert (await api.get(path, headers=own)).status_code == 404, path
        voided = await api.post(
            f"/api/v1/invoices/{invoices[other]}/void", json={"reason": "x"}, headers=own
        )
        assert voided.status_code == 404
        for path, body in (
            ("/api/v1/payments", {"amount": 100, "method": "cash"}),
            ("/api/v1/credit-notes", {"amount": 100, "reason": "x"}),
            ("/api/v1/adjustments", {"amount": 100, "reason": "x"}),
        ):
            refused = await api.post(
                path, json={"subscriber_id": subscriber_id, **body}, headers=own
            )
            assert refused.status_code == 404, (path, refused.text)


async def test_tickets(world):
    api, own = world.api, world.own
    ids = {}
    for who in ("mine", "theirs", "house"):
        opened = await api.post(
            "/api/v1/tickets",
            json={
                "subject": f"Slow at {who}",
                "subscriber_id": getattr(world, who),
                "category": "connectivity",
            },  # fmt: skip
        )
        assert opened.status_code == 201, opened.text
        ids[who] = opened.json()["id"]
    internal = await api.post(
        "/api/v1/tickets", json={"subject": "Tower B down", "category": "connectivity"}
    )
    ids["internal"] = internal.json()["id"]

    listed = (await api.get("/api/v1/tickets", headers=own)).json()
    assert [t["id"] for t in listed["items"]] == [ids["mine"]] and listed["total"] == 1
    searched = (await api.get("/api/v1/tickets", params={"q": "Slow"}, headers=own)).json()
    assert [t["id"] for t in searched["items"]] == [ids["mine"]]
    asked = await api.get("/api/v1/tickets", params={"subscriber": world.theirs}, headers=own)
    assert asked.json()["items"] == []
    assert (await api.get(f"/api/v1/tickets/{ids['mine']}", headers=own)).status_code == 200
    replied = await api.post(
        f"/api/v1/tickets/{ids['mine']}/messages", json={"body": "Checking"}, headers=own
    )
    assert replied.status_code == 201, replied.text

    for other in ("theirs", "house", "internal"):
        ticket = ids[other]
        assert (await api.get(f"/api/v1/tickets/{ticket}", headers=own)).status_code == 404
        for path, body in (
            (f"/api/v1/tickets/{ticket}/messages", {"body": "hello"}),
            (f"/api/v1/tickets/{ticket}/status", {"status": "closed"}),
            (f"/api/v1/tickets/{ticket}/assign", {"assignee_staff_id": None}),
        ):
            answer = await api.post(path, json=body, headers=own)
            assert answer.status_code == 404, (path, answer.text)
    # Nothing of the refused calls was written.
    thread = (await api.get(f"/api/v1/tickets/{ids['theirs']}")).json()
    assert thread["status"] == "open" and thread["messages"] == []

    refused = await api.post(
        "/api/v1/tickets",
        json={"subject": "Theirs", "subscriber_id": world.theirs, "category": "billing"},
        headers=own,
    )
    assert refused.status_code == 404 and refused.json()["errors"][0]["field"] == "subscriber_id"
    unnamed = await api.post(
        "/api/v1/tickets", json={"subject": "Internal", "category": "other"}, headers=own
    )
    assert unnamed.status_code == 400 and unnamed.json()["errors"][0]["field"] == "subscriber_id"
    mine = await api.post(
        "/api/v1/tickets",
        json={"subject": "Mine again", "subscriber_id": world.mine, "category": "other"},
        headers=own,
    )
    assert mine.status_code == 201
    assert (await api.get("/api/v1/tickets", headers=own)).json()["total"] == 2


async def test_reports_cover_the_whole_isp_so_a_reseller_key_is_refused(
    world, reseller_key, make_key, tenant
):
    api = world.api
    with pytest.raises(ApiKeyError):
        reseller_key(world.reseller_a, scopes=("reports:read",))
    own = auth(reseller_key(world.reseller_a, scopes=("subscribers:read",)))
    isp = auth(make_key(tenant.id, scopes=("reports:read",)))
    for path in ("/api/v1/reports", "/api/v1/reports/revenue-by-day"):
        assert (await api.get(path, headers=own)).status_code == 403, path
    assert (await api.get("/api/v1/reports", headers=isp)).status_code == 200
