"""Who may see and change tickets, tenants kept apart, and the console pages."""

from kiunga.platform.models import StaffRole

SCOPES = ("tickets:read", "tickets:write")


def auth(key):
    return {"Authorization": f"Bearer {key}"}


async def test_two_tenants_identical_ids_never_cross(client_for, make_tenant, make_key):
    first, second = make_tenant(), make_tenant()
    a, b = client_for(first.host), client_for(second.host)
    key_a, key_b = make_key(first.id, SCOPES), make_key(second.id, SCOPES)
    for client, key, subject in ((a, key_a, "Kasarani outage"), (b, key_b, "Rongai outage")):
        body = {"subject": subject, "category": "connectivity"}
        created = await client.post("/api/v1/tickets", json=body, headers=auth(key))
        assert created.json()["id"] == 1

    assert (await a.get("/api/v1/tickets/1", headers=auth(key_a))).json()["subject"] == (
        "Kasarani outage"
    )
    listed = (await b.get("/api/v1/tickets", headers=auth(key_b))).json()
    assert [t["subject"] for t in listed["items"]] == ["Rongai outage"]

    await a.post("/api/v1/tickets/1/status", json={"status": "resolved"}, headers=auth(key_a))
    assert (await b.get("/api/v1/tickets/1", headers=auth(key_b))).json()["status"] == "open"
    # A key is good only on its own tenant's host.
    for method, path, body in (
        ("GET", "/api/v1/tickets", None),
        ("GET", "/api/v1/tickets/1", None),
        ("POST", "/api/v1/tickets/1/messages", {"body": "hi"}),
        ("POST", "/api/v1/tickets/1/status", {"status": "closed"}),
    ):
        response = await b.request(method, path, json=body, headers=auth(key_a))
        assert response.status_code == 401, (method, path)
    assert (await b.get("/api/v1/tickets/1", headers=auth(key_b))).json()["messages"] == []


async def test_scopes_and_roles(client_for, make_tenant, make_key, answers_by_role):
    tenant = make_tenant()
    client = client_for(tenant.host)
    reader = make_key(tenant.id, ("tickets:read",))
    assert (await client.get("/api/v1/tickets", headers=auth(reader))).status_code == 200
    body = {"subject": "x", "category": "other"}
    denied = await client.post("/api/v1/tickets", json=body, headers=auth(reader))
    assert denied.status_code == 403
    sites_only = make_key(tenant.id, ("sites:read",))
    assert (await client.get("/api/v1/tickets", headers=auth(sites_only))).status_code == 403

    allowed = {
        StaffRole.SUPPORT: True,
        StaffRole.TECHNICIAN: True,
        StaffRole.ADMIN: True,
        StaffRole.OWNER: True,
        StaffRole.FINANCE: False,
    }
    answers = await answers_by_role(tenant, allowed, "/tickets", "/api/v1/tickets")
    assert answers == {role: (200, 200) if ok else (403, 403) for role, ok in allowed.items()}


async def test_console_open_reply_move_and_assign(
    client_for, make_tenant, make_staff, login, csrf_token_in, add_subscriber, staff_id_of
):
    tenant = make_tenant()
    add_subscriber(tenant.schema, "KB4004", name="Baraka Mwangi")
    technician_email = make_staff(tenant.id, StaffRole.TECHNICIAN)
    client = client_for(tenant.host)
    await login(client, make_staff(tenant.id, StaffRole.SUPPORT))

    listing = await client.get("/tickets")
    assert listing.status_code == 200 and "No tickets." in listing.text
    assert 'name="viewport"' in listing.text
    token = csrf_token_in(listing.text)

    unknown = await client.post(
        "/tickets",
        data={
            "subject": "Fibre cut",
            "category": "connectivity",
            "priority": "urgent",
            "account_number": "NOPE",
            "_csrf_token": token,
        },
        headers={"HX-Request": "true"},
    )
    assert unknown.status_code == 400 and "no subscriber with account NOPE" in unknown.text

    opened = await client.post(
        "/tickets",
        data={
            "subject": "Fibre cut",
            "category": "connectivity",
            "priority": "urgent",
            "account_number": "kb4004",
            "body": "Cable cut by road works",
            "_csrf_token": token,
        },
    )
    assert opened.status_code == 303
    detail_url = opened.headers["location"]
    detail = await client.get(detail_url)
    assert "TKT-000001" in detail.text and "Baraka Mwangi (KB4004)" in detail.text
    assert "Cable cut by road works" in detail.text

    reply = await client.post(
        f"{detail_url}/messages",
        data={"body": "Crew dispatched", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert reply.status_code == 201
    assert reply.text.lstrip().startswith('<div id="ticket">')
    assert "Crew dispatched" in reply.text

    technician = staff_id_of(technician_email)
    assigned = await client.post(
        f"{detail_url}/assign",
        data={"assignee_staff_id": str(technician), "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert assigned.status_code == 200 and f"Assigned to staff {technician}" in assigned.text

    resolved = await client.post(
        f"{detail_url}/status",
        data={"status": "resolved", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert resolved.status_code == 200 and "Status changed from open to resolved" in resolved.text
    closed = await client.post(
        f"{detail_url}/status", data={"status": "closed", "_csrf_token": token}
    )
    assert closed.status_code == 303
    again = await client.post(
        f"{detail_url}/status",
        data={"status": "open", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert again.status_code == 409 and "cannot go from closed to open" in again.text

    filtered = await client.get("/tickets?status=closed&q=fibre")
    assert "TKT-000001" in filtered.text
    assert "TKT-000001" not in (await client.get("/tickets?status=open")).text
    dashboard = await client.get("/")
    assert "Open tickets" in dashboard.text
