"""/api/v1/tickets: numbering, the thread, transitions, assignment, filters and bad input."""

import asyncio

from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.models import StaffRole
from sqlalchemy import select
from sqlalchemy.orm import Session

SCOPES = ("tickets:read", "tickets:write")


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def events(engine, schema, prefix="ticket."):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        query = select(OutboxEvent).where(OutboxEvent.topic.startswith(prefix))
        return [(e.topic, e.payload) for e in session.scalars(query.order_by(OutboxEvent.id))]


async def open_ticket(client, key, **body):
    body = {"subject": "No internet since morning", "category": "connectivity", **body}
    response = await client.post("/api/v1/tickets", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return response.json()


async def test_numbers_count_per_tenant_and_never_repeat(client_for, make_tenant, make_key):
    first, second = make_tenant(), make_tenant()
    a, b = client_for(first.host), client_for(second.host)
    key_a, key_b = make_key(first.id, SCOPES), make_key(second.id, SCOPES)

    assert (await open_ticket(a, key_a))["number"] == "TKT-000001"
    assert (await open_ticket(a, key_a))["number"] == "TKT-000002"
    assert (await open_ticket(b, key_b))["number"] == "TKT-000001"

    # Opened at once, they queue on the counter's row lock: ten distinct, gap-free numbers.
    opened = await asyncio.gather(*(open_ticket(a, key_a, subject=f"Burst {i}") for i in range(10)))
    assert sorted(t["number"] for t in opened) == [f"TKT-{n:06d}" for n in range(3, 13)]


async def test_ticket_with_its_thread_and_events(
    client_for, make_tenant, make_key, add_subscriber, engine
):
    tenant = make_tenant()
    client, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    subscriber_id = add_subscriber(tenant.schema, "KB1001")
    ticket = await open_ticket(
        client,
        key,
        subscriber_id=subscriber_id,
        body="The router's LOS light is red",
        priority="high",
        channel="sms",
        author_kind="subscriber",
    )
    assert ticket["status"] == "open" and ticket["priority"] == "high"
    assert ticket["subscriber_id"] == subscriber_id and ticket["channel"] == "sms"
    assert [(m["author_kind"], m["channel"]) for m in ticket["messages"]] == [("subscriber", "sms")]
    assert ticket["first_response_at"] is None

    reply = await client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "A technician is on the way"},
        headers=auth(key),
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["author_kind"] == "staff" and reply.json()["channel"] == "api"

    fetched = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth(key))).json()
    assert [m["body"] for m in fetched["messages"]] == [
        "The router's LOS light is red",
        "A technician is on the way",
    ]
    assert fetched["first_response_at"] is not None

    assert [topic for topic, _ in events(engine, tenant.schema)] == [
        "ticket.opened",
        "ticket.updated",
    ]
    opened_payload = events(engine, tenant.schema)[0][1]
    assert opened_payload == {
        "ticket_id": ticket["id"],
        "number": "TKT-000001",
        "subscriber_id": subscriber_id,
    }


async def test_status_transitions(client_for, make_tenant, make_key, add_subscriber):
    tenant = make_tenant()
    client, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    subscriber_id = add_subscriber(tenant.schema, "KB2002")
    ticket = await open_ticket(client, key, subscriber_id=subscriber_id)
    url = f"/api/v1/tickets/{ticket['id']}"

    async def move(status):
        return await client.post(f"{url}/status", json={"status": status}, headers=auth(key))

    assert (await move("waiting_on_subscriber")).json()["status"] == "waiting_on_subscriber"
    # The subscriber writing back puts the ticket back with the ISP.
    await client.post(
        f"{url}/messages",
        json={"body": "Still down", "author_kind": "subscriber", "channel": "whatsapp"},
        headers=auth(key),
    )
    assert (await client.get(url, headers=auth(key))).json()["status"] == "in_progress"

    resolved = (await move("resolved")).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    reopened = (await move("open")).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    closed = (await move("closed")).json()
    assert closed["closed_at"] is not None and closed["resolved_at"] is not None

    refused = await move("open")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "status"
    late = await client.post(f"{url}/messages", json={"body": "Hello?"}, headers=auth(key))
    assert late.status_code == 409

    thread = (await client.get(url, headers=auth(key))).json()["messages"]
    notes = [m["body"] for m in thread if m["author_kind"] == "system"]
    assert notes[0].startswith("Status changed from open to waiting_on_subscriber by api_key:")
    assert len(notes) == 4


async def test_bad_input_names_the_field(client_for, make_tenant, make_key):
    tenant = make_tenant()
    client, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    ticket = await open_ticket(client, key)
    cases = [
        ({"subject": " ", "category": "billing"}, "subject"),
        ({"subject": "x" * 201, "category": "billing"}, "subject"),
        ({"subject": "Slow", "category": "weather"}, "category"),
        ({"subject": "Slow", "category": "billing", "priority": "asap"}, "priority"),
        ({"subject": "Slow", "category": "billing", "channel": "fax"}, "channel"),
        ({"subject": "Slow", "category": "billing", "subscriber_id": 999}, "subscriber_id"),
        ({"subject": "Slow", "category": "billing", "author_kind": "subscriber"}, "subscriber_id"),
        ({"category": "billing"}, "subject"),
        ({"subject": "Slow", "category": "billing", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await client.post("/api/v1/tickets", json=body, headers=auth(key))
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, (body, response.json())

    url = f"/api/v1/tickets/{ticket['id']}"
    for path, body, field in (
        ("/messages", {"body": "  "}, "body"),
        ("/messages", {"body": "hi", "author_kind": "robot"}, "author_kind"),
        ("/status", {"status": "done"}, "status"),
        ("/assign", {"assignee_staff_id": 424242}, "assignee_staff_id"),
    ):
        response = await client.post(url + path, json=body, headers=auth(key))
        assert response.status_code == 400, (path, response.text)
        assert response.json()["errors"][0]["field"] == field

    listed = await client.get("/api/v1/tickets?status=done", headers=auth(key))
    assert listed.status_code == 400 and listed.json()["errors"][0]["field"] == "status"
    assert (await client.get("/api/v1/tickets/999", headers=auth(key))).status_code == 404
    # Nothing half-written: still one ticket, with no messages.
    page = (await client.get("/api/v1/tickets", headers=auth(key))).json()
    assert page["total"] == 1
    assert (await client.get(url, headers=auth(key))).json()["messages"] == []


async def test_assign_only_to_this_isps_staff(
    client_for, make_tenant, make_key, make_staff, staff_id_of, engine
):
    tenant, other = make_tenant(), make_tenant()
    client, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    technician = staff_id_of(make_staff(tenant.id, StaffRole.TECHNICIAN))
    outsider = staff_id_of(make_staff(other.id, StaffRole.TECHNICIAN))
    ticket = await open_ticket(client, key)
    url = f"/api/v1/tickets/{ticket['id']}/assign"

    refused = await client.post(url, json={"assignee_staff_id": outsider}, headers=auth(key))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "assignee_staff_id"

    assigned = await client.post(url, json={"assignee_staff_id": technician}, headers=auth(key))
    assert assigned.status_code == 200 and assigned.json()["assignee_staff_id"] == technician
    mine = await client.get(f"/api/v1/tickets?assignee={technician}", headers=auth(key))
    assert [t["id"] for t in mine.json()["items"]] == [ticket["id"]]

    cleared = await client.post(url, json={"assignee_staff_id": None}, headers=auth(key))
    assert cleared.json()["assignee_staff_id"] is None
    changes = [p["change"] for t, p in events(engine, tenant.schema) if t == "ticket.updated"]
    assert changes == ["assignee", "assignee"]


async def test_filters_search_and_pages(client_for, make_tenant, make_key, add_subscriber):
    tenant = make_tenant()
    client, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    wanjiru = add_subscriber(tenant.schema, "KB3003", name="Wanjiru Kamau")
    await open_ticket(client, key, subject="Router reboot loop", priority="urgent")
    await open_ticket(
        client, key, subject="Invoice question", category="billing", subscriber_id=wanjiru
    )
    for i in range(5):
        await open_ticket(client, key, subject=f"Slow speeds {i}", priority="low")

    async def ids(query):
        response = await client.get(f"/api/v1/tickets?{query}", headers=auth(key))
        assert response.status_code == 200, response.text
        return response.json()

    assert [t["subject"] for t in (await ids("priority=urgent"))["items"]] == ["Router reboot loop"]
    assert [t["subject"] for t in (await ids(f"subscriber={wanjiru}"))["items"]] == [
        "Invoice question"
    ]
    assert [t["number"] for t in (await ids("q=wanjiru"))["items"]] == ["TKT-000002"]
    assert [t["number"] for t in (await ids("q=TKT-000001"))["items"]] == ["TKT-000001"]
    assert (await ids("q=100%25"))["total"] == 0
    page = await ids("priority=low&limit=2&offset=2")
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert [t["subject"] for t in page["items"]] == ["Slow speeds 2", "Slow speeds 1"]
    too_big = await client.get("/api/v1/tickets?limit=1000", headers=auth(key))
    assert too_big.status_code == 400
    assert (await ids("status=open"))["total"] == 7
