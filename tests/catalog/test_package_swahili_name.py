"""A package's name in Swahili (what the captive portal shows in Swahili) through the API,
its OpenAPI description and the console form; empty means the English name is shown."""

import pytest
from kiunga.platform.models import StaffRole

HOUR = {
    "name": "One hour",
    "price": 2000,
    "validity_count": 1,
    "validity_unit": "hour",
    "rate_limit": "2M/2M",
    "service_type": "hotspot",
}


async def test_set_read_change_and_clear_the_swahili_name(client):
    plain = await client.post("/api/v1/packages", json=HOUR)
    assert plain.status_code == 201, plain.text
    assert plain.json()["name_sw"] == ""

    created = await client.post(
        "/api/v1/packages", json={**HOUR, "name": "One day", "name_sw": "  Siku   Moja "}
    )
    assert created.status_code == 201, created.text
    package_id = created.json()["id"]
    assert created.json()["name_sw"] == "Siku Moja"
    assert (await client.get(f"/api/v1/packages/{package_id}")).json()["name_sw"] == "Siku Moja"

    changed = await client.patch(f"/api/v1/packages/{package_id}", json={"name_sw": "Siku Nzima"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name_sw"] == "Siku Nzima" and changed.json()["name"] == "One day"
    untouched = await client.patch(f"/api/v1/packages/{package_id}", json={"price": 2500})
    assert untouched.json()["name_sw"] == "Siku Nzima"
    cleared = await client.patch(f"/api/v1/packages/{package_id}", json={"name_sw": ""})
    assert cleared.status_code == 200 and cleared.json()["name_sw"] == ""


@pytest.mark.parametrize("bad", ["x" * 121, 5, "Saa\x00Moja"])
async def test_a_bad_swahili_name_is_named_and_nothing_written(client, bad):
    answer = await client.post("/api/v1/packages", json={**HOUR, "name_sw": bad})
    assert answer.status_code == 400, answer.text
    assert "name_sw" in answer.text
    assert (await client.get("/api/v1/packages")).json() == []


async def test_the_openapi_document_describes_it(client_for, base_host):
    schema = (await client_for(base_host).get("/docs/openapi.json")).json()
    components = schema["components"]["schemas"]
    for name in ("PackageCreate", "PackageUpdate", "PackageRead"):
        assert "name_sw" in components[name]["properties"], name


async def test_the_console_form(make_tenant, make_staff, client_for, login, csrf_token_in):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    page = await admin.get("/packages")
    assert 'name="name_sw"' in page.text
    form = {
        "name": "Campus day", "name_sw": "Siku ya chuo", "price": "50", "validity_count": "1",
        "validity_unit": "day", "billing_type": "prepaid", "service_type": "hotspot",
        "rate_limit": "3M/3M", "_csrf_token": csrf_token_in(page.text),
    }  # fmt: skip
    added = await admin.post("/packages", data=form)
    assert added.status_code == 303, added.text
    assert "Siku ya chuo" in (await admin.get("/packages")).text
    bad = await admin.post("/packages", data={**form, "name": "Campus night", "name_sw": "y" * 121})
    assert bad.status_code == 400 and 'id="package-name_sw-error"' in bad.text
    assert 'value="' + "y" * 121 + '"' in bad.text  # what was typed is kept
