"""The packages API: create, read, change, archive; bad input named and nothing written."""

import pytest
from kiunga.tenants.catalog.models import Package
from sqlalchemy import func, select
from sqlalchemy.orm import Session

SCOPES = ("packages:read", "packages:write", "sites:read", "sites:write")
HOME = {
    "name": "Home 10",
    "price": 250000,
    "validity_count": 1,
    "validity_unit": "month",
    "rate_limit": "5M/10M",
}


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def package_count(engine, schema) -> int:
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return session.scalar(select(func.count()).select_from(Package))


@pytest.fixture
def isp(make_tenant, make_key, client_for):
    tenant = make_tenant()
    key = make_key(tenant.id, scopes=SCOPES)
    client = client_for(tenant.host)
    client.headers.update(auth(key))
    return tenant, client


async def test_create_get_update_archive(isp):
    tenant, client = isp
    site = (await client.post("/api/v1/sites", json={"name": "Roysambu"})).json()
    created = await client.post(
        "/api/v1/packages",
        json={**HOME, "site_ids": [site["id"]], "data_cap_bytes": 10**11,
              "fup_rate_limit": "1M/2M", "billing_type": "postpaid"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["currency"] == "KES" and body["price"] == 250000
    assert body["site_ids"] == [site["id"]] and body["active"] is True
    assert body["billing_type"] == "postpaid" and body["fup_rate_limit"] == "1M/2M"

    got = await client.get(f"/api/v1/packages/{body['id']}")
    assert got.json()["name"] == "Home 10"

    patched = await client.patch(
        f"/api/v1/packages/{body['id']}", json={"price": 300000, "data_cap_bytes": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["price"] == 300000 and patched.json()["data_cap_bytes"] is None
    assert patched.json()["fup_rate_limit"] == "1M/2M"

    archived = await client.post(f"/api/v1/packages/{body['id']}/archive")
    assert archived.status_code == 200 and archived.json()["active"] is False
    assert (await client.get("/api/v1/packages")).json() == []
    assert [p["id"] for p in (await client.get("/api/v1/packages?state=archived")).json()] == [
        body["id"]
    ]
    restored = await client.post(f"/api/v1/packages/{body['id']}/unarchive")
    assert restored.json()["active"] is True
    assert len((await client.get("/api/v1/packages?state=all")).json()) == 1


async def test_hourly_hotspot_plan(isp):
    _, client = isp
    created = await client.post(
        "/api/v1/packages",
        json={**HOME, "name": "1 hour", "price": 2000, "validity_unit": "hour",
              "service_type": "hotspot", "rate_limit": "512k/1M"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["validity_unit"] == "hour"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": 10.5}, "price"),
        ({"price": "100"}, "price"),
        ({"price": 10.0}, "price"),
        ({"validity_count": 0}, "validity_count"),
        ({"validity_unit": "year"}, "validity_unit"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"fup_rate_limit": "1M/2M/3M"}, "fup_rate_limit"),
        ({"service_type": "fibre"}, "service_type"),
        ({"billing_type": "sometimes"}, "billing_type"),
        ({"data_cap_bytes": 0}, "data_cap_bytes"),
        ({"site_ids": [999]}, "site_ids"),
        ({"name": "  "}, "name"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(isp, engine, change, field):
    tenant, client = isp
    answer = await client.post("/api/v1/packages", json={**HOME, **change})
    assert answer.status_code == 400, answer.text
    assert field in [error["field"] for error in answer.json()["errors"]], answer.json()
    assert package_count(engine, tenant.schema) == 0


async def test_bad_update_changes_nothing(isp):
    _, client = isp
    created = (await client.post("/api/v1/packages", json=HOME)).json()
    answer = await client.patch(
        f"/api/v1/packages/{created['id']}", json={"price": 1, "site_ids": [42]}
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "site_ids"
    assert (await client.get(f"/api/v1/packages/{created['id']}")).json()["price"] == 250000


async def test_duplicate_name_is_a_conflict(isp):
    _, client = isp
    assert (await client.post("/api/v1/packages", json=HOME)).status_code == 201
    again = await client.post("/api/v1/packages", json={**HOME, "name": "home 10"})
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "name"
    other = (await client.post("/api/v1/packages", json={**HOME, "name": "Home 20"})).json()
    renamed = await client.patch(f"/api/v1/packages/{other['id']}", json={"name": "Home 10"})
    assert renamed.status_code == 409


async def test_scopes_and_tenants(make_tenant, make_key, client_for):
    first, second = make_tenant(), make_tenant()
    reader = make_key(first.id, scopes=("packages:read",))
    writer = make_key(first.id, scopes=SCOPES)
    a = client_for(first.host)
    assert (await a.post("/api/v1/packages", json=HOME, headers=auth(reader))).status_code == 403
    created = await a.post("/api/v1/packages", json=HOME, headers=auth(writer))
    assert created.json()["id"] == 1
    b = client_for(second.host)
    other = make_key(second.id, scopes=SCOPES)
    assert (await b.get("/api/v1/packages/1", headers=auth(other))).status_code == 404
    assert (await b.get("/api/v1/packages", headers=auth(other))).json() == []


async def test_console_roles(make_tenant, make_staff, client_for, login, csrf_token_in):
    from kiunga.platform.models import StaffRole

    tenant = make_tenant()
    admin, technician = client_for(tenant.host), client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    await login(technician, make_staff(tenant.id, StaffRole.TECHNICIAN))
    page = await admin.get("/packages")
    assert page.status_code == 200 and "Add a package" in page.text
    form = {
        "name": "Home 5", "price": "1500", "validity_count": "1", "validity_unit": "month",
        "billing_type": "prepaid", "service_type": "pppoe", "rate_limit": "2M/5M",
        "_csrf_token": csrf_token_in(page.text),
    }  # fmt: skip
    added = await admin.post("/packages", data=form)
    assert added.status_code == 303
    listing = await admin.get("/packages")
    assert "Home 5" in listing.text and "KES 1,500.00" in listing.text
    bad = await admin.post("/packages", data={**form, "name": "Home 6", "price": "-5"})
    assert bad.status_code == 400 and "price" in bad.text

    seen = await technician.get("/packages")
    assert seen.status_code == 200 and "Home 5" in seen.text and "Add a package" not in seen.text
    refused = await technician.post(
        "/packages", data={**form, "name": "Home 7", "_csrf_token": csrf_token_in(seen.text)}
    )
    assert refused.status_code == 403
