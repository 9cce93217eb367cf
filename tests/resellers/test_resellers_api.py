"""/api/v1/resellers: list, add, read and change resellers; who may; bad input named."""

from __future__ import annotations

from kiunga.platform.models import StaffRole

from fixtures.web import auth


async def test_add_list_read_and_change(client_for, tenant, full_key):
    api = client_for(tenant.host)
    api.headers.update(auth(full_key))
    made = await api.post(
        "/api/v1/resellers", json={"name": " Mama  Mboga Net ", "phone": "0712345678"}
    )
    assert made.status_code == 201, made.text
    reseller = made.json()
    assert reseller["name"] == "Mama Mboga Net" and reseller["phone"] == "+254712345678"
    assert reseller["subscribers"] == 0
    second = await api.post("/api/v1/resellers", json={"name": "Baraka Agencies"})
    assert second.status_code == 201 and second.json()["phone"] is None

    joined = await api.post(
        "/api/v1/subscribers", json={"name": "Halima Abdi", "reseller_id": reseller["id"]}
    )
    assert joined.status_code == 201 and joined.json()["reseller_id"] == reseller["id"]

    listed = (await api.get("/api/v1/resellers")).json()
    assert [(r["name"], r["subscribers"]) for r in listed["items"]] == [
        ("Baraka Agencies", 0),
        ("Mama Mboga Net", 1),
    ]
    assert listed["total"] == 2
    found = (await api.get("/api/v1/resellers", params={"q": "mboga"})).json()
    assert [r["id"] for r in found["items"]] == [reseller["id"]]
    paged = (await api.get("/api/v1/resellers", params={"limit": 1, "offset": 1})).json()
    assert [r["name"] for r in paged["items"]] == ["Mama Mboga Net"] and paged["total"] == 2

    one = await api.get(f"/api/v1/resellers/{reseller['id']}")
    assert one.status_code == 200 and one.json()["subscribers"] == 1
    changed = await api.patch(f"/api/v1/resellers/{reseller['id']}", json={"name": "Mboga Net"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Mboga Net" and changed.json()["phone"] == "+254712345678"
    cleared = await api.patch(f"/api/v1/resellers/{reseller['id']}", json={"phone": None})
    assert cleared.json()["phone"] is None and cleared.json()["name"] == "Mboga Net"

    moved = await api.patch(
        f"/api/v1/subscribers/{joined.json()['id']}", json={"reseller_id": second.json()["id"]}
    )
    assert moved.status_code == 200 and moved.json()["reseller_id"] == second.json()["id"]
    released = await api.patch(
        f"/api/v1/subscribers/{joined.json()['id']}", json={"reseller_id": None}
    )
    assert released.json()["reseller_id"] is None


async def test_bad_input_names_the_field_and_changes_nothing(client_for, tenant, full_key):
    api = client_for(tenant.host)
    api.headers.update(auth(full_key))
    for body, field in (
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Agent", "phone": "12"}, "phone"),
        ({"name": "Agent", "colour": "red"}, "colour"),
        ({}, "name"),
    ):
        answer = await api.post("/api/v1/resellers", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
    assert (await api.get("/api/v1/resellers")).json()["total"] == 0

    made = (await api.post("/api/v1/resellers", json={"name": "Agent"})).json()
    bad = await api.patch(f"/api/v1/resellers/{made['id']}", json={"name": "New", "phone": "12"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "phone"
    assert (await api.get(f"/api/v1/resellers/{made['id']}")).json()["name"] == "Agent"
    assert (await api.get("/api/v1/resellers/999999")).status_code == 404
    for params in ({"offset": 10**18}, {"limit": 0}, {"limit": 201}):
        answer = await api.get("/api/v1/resellers", params=params)
        assert answer.status_code == 400, params
    assert (await api.patch("/api/v1/resellers/999999", json={"name": "X"})).status_code == 404

    unknown = await api.post("/api/v1/subscribers", json={"name": "Baraka", "reseller_id": 999999})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "reseller_id"


async def test_who_may_manage_resellers(
    client_for, tenant, make_key, full_key, reseller_key, make_tenant, make_staff, login
):
    api = client_for(tenant.host)
    made = await api.post("/api/v1/resellers", json={"name": "Agent"}, headers=auth(full_key))
    reseller_id = made.json()["id"]

    assert (await api.get("/api/v1/resellers")).status_code == 401
    read_only = make_key(tenant.id, scopes=("subscribers:read",))
    assert (await api.get("/api/v1/resellers", headers=auth(read_only))).status_code == 200
    refused = await api.post("/api/v1/resellers", json={"name": "B"}, headers=auth(read_only))
    assert refused.status_code == 403

    # A reseller's own key, even with every scope, manages no resellers, not even itself.
    own = reseller_key(reseller_id)
    for method, path, body in (
        ("GET", "/api/v1/resellers", None),
        ("POST", "/api/v1/resellers", {"name": "Sneaky"}),
        ("GET", f"/api/v1/resellers/{reseller_id}", None),
        ("PATCH", f"/api/v1/resellers/{reseller_id}", {"name": "Renamed"}),
    ):
        answer = await api.request(method, path, json=body, headers=auth(own))
        assert answer.status_code == 403, (method, path, answer.text)
    assert (await api.get(f"/api/v1/resellers/{reseller_id}", headers=auth(full_key))).json()[
        "name"
    ] == "Agent"

    # Staff through their session: owners and admins, not support.
    support = client_for(tenant.host)
    await login(support, make_staff(tenant.id, role=StaffRole.SUPPORT))
    assert (await support.get("/api/v1/resellers")).status_code == 403
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, role=StaffRole.ADMIN))
    assert (await admin.get("/api/v1/resellers")).json()["total"] == 1

    # Another ISP's key sees none of this ISP's resellers.
    other = make_tenant()
    other_key = make_key(other.id, scopes=("subscribers:read", "subscribers:write"))
    elsewhere = client_for(other.host)
    assert (await elsewhere.get("/api/v1/resellers", headers=auth(other_key))).json()["total"] == 0
    missing = await elsewhere.get(f"/api/v1/resellers/{reseller_id}", headers=auth(other_key))
    assert missing.status_code == 404
    crossed = await api.get("/api/v1/resellers", headers=auth(other_key))
    assert crossed.status_code in (401, 403, 404)
