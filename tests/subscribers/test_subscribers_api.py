"""The subscribers API: create, find, change, the status lifecycle and its history."""

import pytest
from kiunga.tenants.subscribers.models import Reseller, Subscriber, SubscriberStatusChange
from sqlalchemy import func, select
from sqlalchemy.orm import Session

SCOPES = ("subscribers:read", "subscribers:write", "sites:read", "sites:write")
RESELLER_SCOPES = ("subscribers:read", "subscribers:write", "sites:read")


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def count(engine, schema, model) -> int:
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def isp(make_tenant, make_key, client_for):
    tenant = make_tenant()
    client = client_for(tenant.host)
    client.headers.update(auth(make_key(tenant.id, scopes=SCOPES)))
    return tenant, client


async def test_create_normalises_and_generates_an_account(isp):
    _, client = isp
    new = {
        "name": "  Achieng  Otieno ",
        "phones": ["0712 345 678", "254712345678", "+254733000111"],
        "email": "Achieng@Example.com",
        "region": "Nairobi",
        "latitude": -1.2921,
        "longitude": 36.8219,
        "language": "sw",
    }
    created = await client.post("/api/v1/subscribers", json=new)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Achieng Otieno"
    assert body["phones"] == ["+254712345678", "+254733000111"]
    assert body["email"] == "achieng@example.com"
    assert body["account_number"].isdigit() and len(body["account_number"]) == 7
    assert body["status"] == "lead" and body["language"] == "sw"
    history = (await client.get(f"/api/v1/subscribers/{body['id']}/history")).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [(None, "lead")]
    assert history[0]["changed_by"].startswith("api_key:")


async def test_given_account_numbers(isp):
    _, client = isp
    first = await client.post("/api/v1/subscribers", json={"name": "A", "account_number": "kb 101"})
    assert first.status_code == 201 and first.json()["account_number"] == "KB101"
    again = await client.post("/api/v1/subscribers", json={"name": "B", "account_number": "KB101"})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "account_number"
    bad = await client.post("/api/v1/subscribers", json={"name": "C", "account_number": "A-1"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "account_number"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phones": ["0712"]}, "phones[0]"),
        ({"phones": ["+254712345678", "call me"]}, "phones[1]"),
        ({"email": "not-an-email"}, "email"),
        ({"site_id": 999}, "site_id"),
        ({"reseller_id": 999}, "reseller_id"),
        ({"latitude": 1.0}, "longitude"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"language": "fr"}, "language"),
        ({"status": "sleeping"}, "status"),
        ({"name": " "}, "name"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(isp, engine, body, field):
    tenant, client = isp
    answer = await client.post("/api/v1/subscribers", json={"name": "Juma", **body})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert count(engine, tenant.schema, Subscriber) == 0
    assert count(engine, tenant.schema, SubscriberStatusChange) == 0


async def test_update(isp):
    _, client = isp
    site = (await client.post("/api/v1/sites", json={"name": "Umoja"})).json()
    made = (await client.post("/api/v1/subscribers", json={"name": "Wafula"})).json()
    patched = await client.patch(
        f"/api/v1/subscribers/{made['id']}",
        json={"phones": ["0722000111"], "site_id": site["id"], "unit": "B4"},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["phones"] == ["+254722000111"] and body["site_id"] == site["id"]
    bad = await client.patch(f"/api/v1/subscribers/{made['id']}", json={"phones": ["x"]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "phones[0]"
    assert (await client.get(f"/api/v1/subscribers/{made['id']}")).json()["phones"] == [
        "+254722000111"
    ]


async def test_status_lifecycle_and_history(isp):
    _, client = isp
    made = (await client.post("/api/v1/subscribers", json={"name": "Kamau"})).json()
    url = f"/api/v1/subscribers/{made['id']}/status"
    for status in ("pending_installation", "active", "suspended", "active", "terminated"):
        moved = await client.post(url, json={"status": status, "reason": f"to {status}"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    final = await client.post(url, json={"status": "active"})
    assert final.status_code == 409 and final.json()["errors"][0]["field"] == "status"
    history = (await client.get(f"/api/v1/subscribers/{made['id']}/history")).json()
    assert [h["to_status"] for h in history] == [
        "lead", "pending_installation", "active", "suspended", "active", "terminated"
    ]  # fmt: skip
    assert history[3]["reason"] == "to suspended"

    other = (await client.post("/api/v1/subscribers", json={"name": "Otieno"})).json()
    skip = await client.post(
        f"/api/v1/subscribers/{other['id']}/status", json={"status": "suspended"}
    )
    assert skip.status_code == 409
    unknown = await client.post("/api/v1/subscribers/999/status", json={"status": "active"})
    assert unknown.status_code == 404


async def test_list_filters_search_sort_and_pages(isp):
    _, client = isp
    people = [
        ("Amina Hassan", "Mombasa", "0711000001", "active"),
        ("Brian Kiprop", "Eldoret", "0711000002", "lead"),
        ("Cynthia Wanjiru", "Nairobi", "0722333444", "active"),
        ("David Mwangi", "Nairobi", "0733555666", "lead"),
    ]
    for name, region, phone, status in people:
        made = await client.post(
            "/api/v1/subscribers",
            json={"name": name, "region": region, "phones": [phone], "status": status,
                  "email": f"{name.split()[0].lower()}@mail.test"},
        )  # fmt: skip
        assert made.status_code == 201, made.text

    def names(answer):
        return [item["name"] for item in answer.json()["items"]]

    everyone = await client.get("/api/v1/subscribers")
    assert everyone.json()["total"] == 4 and names(everyone)[0] == "Amina Hassan"
    nairobi = await client.get("/api/v1/subscribers", params={"region": "Nairobi"})
    assert names(nairobi) == ["Cynthia Wanjiru", "David Mwangi"]
    active = await client.get("/api/v1/subscribers", params={"status": "active", "sort": "-name"})
    assert names(active) == ["Cynthia Wanjiru", "Amina Hassan"]
    assert names(await client.get("/api/v1/subscribers", params={"q": "wanj"})) == [
        "Cynthia Wanjiru"
    ]
    assert names(await client.get("/api/v1/subscribers", params={"q": "0733 555"})) == [
        "David Mwangi"
    ]
    assert names(await client.get("/api/v1/subscribers", params={"q": "brian@"})) == [
        "Brian Kiprop"
    ]
    page2 = await client.get("/api/v1/subscribers", params={"per_page": 3, "page": 2})
    assert page2.json()["total"] == 4 and page2.json()["pages"] == 2
    assert names(page2) == ["David Mwangi"]
    bad = await client.get("/api/v1/subscribers", params={"status": "asleep"})
    assert bad.status_code == 400


async def test_reseller_key_sees_only_its_own(make_tenant, make_key, client_for, engine, settings):
    from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync

    tenant = make_tenant()
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session, session.begin():
        session.add_all([Reseller(name="Agent A"), Reseller(name="Agent B")])
    staff_key = make_key(tenant.id, scopes=SCOPES)
    reseller_key = create_api_key_sync(
        engine,
        KeyRequest(scopes=RESELLER_SCOPES, tenant_id=tenant.id, reseller_id=1),
        secret_key=settings.secret_key,
    ).token
    client = client_for(tenant.host)
    theirs = await client.post(
        "/api/v1/subscribers", json={"name": "Of B", "reseller_id": 2}, headers=auth(staff_key)
    )
    house = await client.post(
        "/api/v1/subscribers", json={"name": "House"}, headers=auth(staff_key)
    )
    mine = await client.post(
        "/api/v1/subscribers", json={"name": "Mine", "reseller_id": 2}, headers=auth(reseller_key)
    )
    assert mine.status_code == 201 and mine.json()["reseller_id"] == 1

    listed = await client.get(
        "/api/v1/subscribers", params={"reseller_id": 2}, headers=auth(reseller_key)
    )
    assert [item["name"] for item in listed.json()["items"]] == ["Mine"]
    for other in (theirs.json()["id"], house.json()["id"]):
        for path in ("", "/history"):
            answer = await client.get(
                f"/api/v1/subscribers/{other}{path}", headers=auth(reseller_key)
            )
            assert answer.status_code == 404
        patched = await client.patch(
            f"/api/v1/subscribers/{other}", json={"name": "x"}, headers=auth(reseller_key)
        )
        assert patched.status_code == 404
        moved = await client.post(
            f"/api/v1/subscribers/{other}/status", json={"status": "active"},
            headers=auth(reseller_key),
        )  # fmt: skip
        assert moved.status_code == 404
    handed = await client.patch(
        f"/api/v1/subscribers/{mine.json()['id']}", json={"reseller_id": 2},
        headers=auth(reseller_key),
    )  # fmt: skip
    assert handed.status_code == 200 and handed.json()["reseller_id"] == 1
    everyone = await client.get("/api/v1/subscribers", headers=auth(staff_key))
    assert everyone.json()["total"] == 3


async def test_two_tenants_same_ids_never_cross(make_tenant, make_key, client_for):
    first, second = make_tenant(), make_tenant()
    a, b = client_for(first.host), client_for(second.host)
    a.headers.update(auth(make_key(first.id, scopes=SCOPES)))
    b.headers.update(auth(make_key(second.id, scopes=SCOPES)))
    for client, name in ((a, "Njeri"), (b, "Mutua")):
        made = await client.post(
            "/api/v1/subscribers", json={"name": name, "account_number": "A100"}
        )
        assert made.status_code == 201 and made.json()["id"] == 1
    assert (await a.get("/api/v1/subscribers/1")).json()["name"] == "Njeri"
    await b.post("/api/v1/subscribers/1/status", json={"status": "terminated"})
    assert (await a.get("/api/v1/subscribers/1")).json()["status"] == "lead"
    assert [i["name"] for i in (await b.get("/api/v1/subscribers")).json()["items"]] == ["Mutua"]


async def test_scopes(make_tenant, make_key, client_for):
    tenant = make_tenant()
    client = client_for(tenant.host)
    reader = make_key(tenant.id, scopes=("subscribers:read",))
    refused = await client.post("/api/v1/subscribers", json={"name": "X"}, headers=auth(reader))
    assert refused.status_code == 403
    assert (await client.get("/api/v1/subscribers", headers=auth(reader))).status_code == 200
