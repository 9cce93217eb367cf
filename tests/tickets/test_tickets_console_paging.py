"""The console's ticket list: pages of 50 that keep the filters, and filters by assignee and
by subscriber (the subscriber page links to the latter)."""

import re

from kiunga.platform.models import StaffRole

SCOPES = ("tickets:read", "tickets:write")


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def numbers(html: str) -> list[str]:
    return re.findall(r">(TKT-\d{6})</a>", html)


async def test_pages_keep_their_filters(
    client_for, make_tenant, make_key, make_staff, login, add_subscriber, staff_id_of
):
    tenant = make_tenant()
    api, key = client_for(tenant.host), make_key(tenant.id, SCOPES)
    subscriber_id = add_subscriber(tenant.schema, "KP1001", name="Kipchoge Paging")
    email = make_staff(tenant.id, role=StaffRole.SUPPORT)
    for n in range(1, 58):
        body = {"subject": f"Ticket {n}", "category": "connectivity",
                "priority": "high" if n % 2 else "low"}  # fmt: skip
        if n > 50:
            body["subscriber_id"] = subscriber_id
        made = await api.post("/api/v1/tickets", json=body, headers=auth(key))
        assert made.status_code == 201
        if n <= 3:
            taken = await api.post(
                f"/api/v1/tickets/{made.json()['id']}/assign",
                json={"assignee_staff_id": staff_id_of(email)},
                headers=auth(key),
            )
            assert taken.status_code == 200, taken.text

    console = client_for(tenant.host)
    await login(console, email)
    first = await console.get("/tickets")
    assert first.status_code == 200
    assert "57 tickets" in first.text and "Page 1 of 2" in first.text
    assert numbers(first.text)[0] == "TKT-000057" and len(numbers(first.text)) == 50
    second = await console.get("/tickets", params={"page": 2})
    assert numbers(second.text) == [f"TKT-{n:06d}" for n in range(7, 0, -1)]
    assert 'href="/tickets?page=1"' in second.text
    for beyond in (9, 10**17):
        past_the_end = await console.get("/tickets", params={"page": beyond})
        assert past_the_end.status_code == 200
        assert numbers(past_the_end.text) == numbers(second.text)
    assert numbers((await console.get("/tickets", params={"page": "x"})).text) == numbers(
        first.text
    )

    high = await console.get("/tickets", params={"priority": "high"})
    assert "29 tickets" in high.text and "Page 1 of 1" not in high.text
    assert len(numbers(high.text)) == 29
    low = await console.get("/tickets", params={"priority": "low", "q": "Ticket"})
    assert "28 tickets" in low.text

    mine = await console.get("/tickets", params={"assignee": staff_id_of(email)})
    assert numbers(mine.text) == ["TKT-000003", "TKT-000002", "TKT-000001"]
    nobody = await console.get("/tickets", params={"assignee": "none"})
    assert "54 tickets" in nobody.text and "TKT-000003" not in numbers(nobody.text)
    page_two = await console.get("/tickets", params={"assignee": "none", "page": 2})
    assert "assignee=none" in page_two.text and len(numbers(page_two.text)) == 4

    about = await console.get("/tickets", params={"subscriber_id": subscriber_id})
    assert numbers(about.text) == [f"TKT-{n:06d}" for n in range(57, 50, -1)]
    assert "KP1001 · Kipchoge Paging" in about.text
    assert f'name="subscriber_id" value="{subscriber_id}"' in about.text
