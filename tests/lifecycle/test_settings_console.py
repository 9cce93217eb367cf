"""The lifecycle settings page: owners and admins change the grace period and the rest; a
bad field is shown beside it and nothing is saved."""

from __future__ import annotations

from kiunga.platform.models import StaffRole


async def test_admin_changes_settings_and_a_bad_field_saves_nothing(
    client_for, tenant, make_staff, login, csrf_token_in, make_key
):
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, role=StaffRole.ADMIN))
    form = await admin.get("/settings/lifecycle")
    assert form.status_code == 200
    assert 'name="grace_days" value="3"' in form.text
    token = csrf_token_in(form.text)

    bad = await admin.post(
        "/settings/lifecycle",
        data={"grace_days": "10", "reminder_days_before": "1.5", "postpaid_due_days": "400",
              "_csrf_token": token},
    )  # fmt: skip
    assert bad.status_code == 400
    assert 'id="settings-reminder_days_before-error"' in bad.text
    assert 'id="settings-postpaid_due_days-error"' in bad.text
    assert 'id="settings-grace_days-error"' not in bad.text and 'value="10"' in bad.text
    reader = make_key(tenant.id, ("billing:read",))
    api = client_for(tenant.host)
    unchanged = await api.get(
        "/api/v1/lifecycle/settings", headers={"Authorization": f"Bearer {reader}"}
    )
    assert unchanged.json() == {"grace_days": 3, "reminder_days_before": 2, "postpaid_due_days": 7}

    saved = await admin.post(
        "/settings/lifecycle",
        data={"grace_days": "10", "reminder_days_before": "0", "postpaid_due_days": "14",
              "_csrf_token": token},
    )  # fmt: skip
    assert saved.status_code == 303
    shown = await admin.get(saved.headers["location"])
    assert "Saved." in shown.text and 'name="grace_days" value="10"' in shown.text
    changed = await api.get(
        "/api/v1/lifecycle/settings", headers={"Authorization": f"Bearer {reader}"}
    )
    assert changed.json() == {"grace_days": 10, "reminder_days_before": 0, "postpaid_due_days": 14}


async def test_only_owners_and_admins(client_for, tenant, make_staff, login):
    owner = client_for(tenant.host)
    await login(owner, make_staff(tenant.id, role=StaffRole.OWNER))
    assert (await owner.get("/settings/lifecycle")).status_code == 200
    for role in (StaffRole.FINANCE, StaffRole.SUPPORT, StaffRole.TECHNICIAN):
        client = client_for(tenant.host)
        await login(client, make_staff(tenant.id, role=role))
        assert (await client.get("/settings/lifecycle")).status_code == 403, role
    anonymous = client_for(tenant.host)
    assert (await anonymous.get("/settings/lifecycle")).status_code in (302, 303)
