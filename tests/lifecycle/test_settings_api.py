"""/api/v1/lifecycle/settings: read with billing:read, change with billing:write."""

from __future__ import annotations


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_read_and_change_settings(client_for, tenant, make_key):
    client = client_for(tenant.host)
    reader = make_key(tenant.id, ("billing:read",))
    writer = make_key(tenant.id, ("billing:read", "billing:write"))
    defaults = await client.get("/api/v1/lifecycle/settings", headers=auth(reader))
    assert defaults.json() == {"grace_days": 3, "reminder_days_before": 2, "postpaid_due_days": 7}
    denied = await client.patch(
        "/api/v1/lifecycle/settings", json={"grace_days": 5}, headers=auth(reader)
    )
    assert denied.status_code == 403
    changed = await client.patch(
        "/api/v1/lifecycle/settings", json={"grace_days": 5}, headers=auth(writer)
    )
    assert changed.status_code == 200 and changed.json()["grace_days"] == 5
    again = await client.get("/api/v1/lifecycle/settings", headers=auth(reader))
    assert again.json()["grace_days"] == 5 and again.json()["postpaid_due_days"] == 7
    bad = await client.patch(
        "/api/v1/lifecycle/settings", json={"grace_days": -1}, headers=auth(writer)
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "grace_days"
    fractional = await client.patch(
        "/api/v1/lifecycle/settings", json={"grace_days": 1.5}, headers=auth(writer)
    )
    assert fractional.status_code == 400
