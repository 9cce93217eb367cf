"""A package's hotspot settings through the API and the console: how many devices may use
one login at once (shared_users) and whether the captive portal sells it."""

import pytest
from kiunga.platform.models import StaffRole

HOUR = {
    "name": "Hour pass",
    "price": 2000,
    "validity_count": 1,
    "validity_unit": "hour",
    "rate_limit": "2M/2M",
    "service_type": "hotspot",
}


async def test_defaults_set_and_change(client):
    plain = await client.post("/api/v1/packages", json=HOUR)
    assert plain.status_code == 201, plain.text
    assert (plain.json()["shared_users"], plain.json()["sold_on_portal"]) == (1, False)

    family = await client.post(
        "/api/v1/packages",
        json={**HOUR, "name": "Family hour", "shared_users": 3, "sold_on_portal": True},
    )
    assert family.status_code == 201, family.text
    assert (family.json()["shared_users"], family.json()["sold_on_portal"]) == (3, True)

    changed = await client.patch(
        f"/api/v1/packages/{plain.json()['id']}", json={"shared_users": 2, "sold_on_portal": True}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["shared_users"], changed.json()["sold_on_portal"]) == (2, True)
    listed = (await client.get("/api/v1/packages")).json()
    assert {p["name"]: p["shared_users"] for p in listed} == {"Hour pass": 2, "Family hour": 3}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shared_users": 0}, "shared_users"),
        ({"shared_users": 101}, "shared_users"),
        ({"shared_users": 1.5}, "shared_users"),
        ({"sold_on_portal": "yes"}, "sold_on_portal"),
    ],
)
async def test_bad_values_name_the_field(client, change, field):
    answer = await client.post("/api/v1/packages", json={**HOUR, **change})
    assert answer.status_code == 400, answer.text
    assert field in answer.text


async def test_the_console_form(make_tenant, make_staff, client_for, login, csrf_token_in):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    page = await admin.get("/packages")
    assert 'name="shared_users"' in page.text and 'name="sold_on_portal"' in page.text
    form = {
        "name": "Campus day", "price": "50", "validity_count": "1", "validity_unit": "day",
        "billing_type": "prepaid", "service_type": "hotspot", "rate_limit": "3M/3M",
        "shared_users": "2", "sold_on_portal": "1", "_csrf_token": csrf_token_in(page.text),
    }  # fmt: skip
    added = await admin.post("/packages", data=form)
    assert added.status_code == 303, added.text
    listing = await admin.get("/packages")
    assert "2 devices" in listing.text and "on the portal" in listing.text
    bad = await admin.post("/packages", data={**form, "name": "Campus night", "shared_users": "0"})
    assert bad.status_code == 400 and "shared_users" in bad.text
