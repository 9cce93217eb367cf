"""Subscriber pages in the console, and what each staff role may do there."""

from kiunga.platform.models import StaffRole


async def signed_in(client_for, login, make_staff, tenant, role):
    client = client_for(tenant.host)
    answer = await login(client, make_staff(tenant.id, role))
    assert answer.status_code in (302, 303), answer.text
    return client


async def test_support_adds_finds_and_moves_a_subscriber(
    make_tenant, make_staff, client_for, login, csrf_token_in
):
    tenant = make_tenant()
    support = await signed_in(client_for, login, make_staff, tenant, StaffRole.SUPPORT)
    form_page = await support.get("/subscribers/new")
    assert form_page.status_code == 200
    token = csrf_token_in(form_page.text)
    bad = await support.post(
        "/subscribers", data={"name": "Halima", "phone": "12", "_csrf_token": token}
    )
    assert bad.status_code == 400 and 'id="subscriber-phone-error"' in bad.text
    added = await support.post(
        "/subscribers",
        data={"name": "Halima Abdi", "phone": "0712345678", "region": "Garissa",
              "_csrf_token": token},
    )  # fmt: skip
    assert added.status_code == 303
    detail_url = added.headers["location"]
    detail = await support.get(detail_url)
    assert "+254712345678" in detail.text and "Change status" in detail.text

    listing = await support.get("/subscribers", params={"q": "halima", "region": "Garissa"})
    assert "Halima Abdi" in listing.text and "1 subscriber" in listing.text
    assert "Halima" not in (await support.get("/subscribers", params={"q": "zzz"})).text

    moved = await support.post(
        f"{detail_url}/status",
        data={"status": "pending_installation", "reason": "survey done",
              "_csrf_token": csrf_token_in(detail.text)},
    )  # fmt: skip
    assert moved.status_code == 303
    after = await support.get(detail_url)
    assert "survey done" in after.text and "pending installation" in after.text
    refused = await support.post(
        f"{detail_url}/status",
        data={"status": "suspended", "_csrf_token": csrf_token_in(after.text)},
    )
    assert refused.status_code == 409 and "cannot become suspended" in refused.text


async def test_technician_and_finance_only_look(
    make_tenant, make_staff, make_key, client_for, login, csrf_token_in
):
    tenant = make_tenant()
    key = make_key(tenant.id, scopes=("subscribers:write", "subscribers:read"))
    made = await client_for(tenant.host).post(
        "/api/v1/subscribers", json={"name": "Baraka"}, headers={"Authorization": f"Bearer {key}"}
    )
    subscriber_id = made.json()["id"]
    for role in (StaffRole.TECHNICIAN, StaffRole.FINANCE):
        client = await signed_in(client_for, login, make_staff, tenant, role)
        listing = await client.get("/subscribers")
        assert listing.status_code == 200 and "Baraka" in listing.text
        assert "Add a subscriber" not in listing.text
        detail = await client.get(f"/subscribers/{subscriber_id}")
        assert detail.status_code == 200 and "Change status" not in detail.text
        token = csrf_token_in(detail.text)
        moved = await client.post(
            f"/subscribers/{subscriber_id}/status", data={"status": "active", "_csrf_token": token}
        )
        assert moved.status_code == 403
        assert (await client.get("/subscribers/new")).status_code == 403


async def test_pages_of_the_list(make_tenant, make_staff, make_key, client_for, login):
    tenant = make_tenant()
    key = make_key(tenant.id, scopes=("subscribers:write",))
    api = client_for(tenant.host)
    for number in range(30):
        await api.post(
            "/api/v1/subscribers",
            json={"name": f"Person {number:02d}"},
            headers={"Authorization": f"Bearer {key}"},
        )
    admin = await signed_in(client_for, login, make_staff, tenant, StaffRole.ADMIN)
    first = await admin.get("/subscribers")
    assert "Page 1 of 2" in first.text and "Person 00" in first.text
    second = await admin.get("/subscribers", params={"page": 2})
    assert "Person 29" in second.text and "Person 00" not in second.text


async def test_edit_details(make_tenant, make_staff, client_for, login, csrf_token_in):
    tenant = make_tenant()
    admin = await signed_in(client_for, login, make_staff, tenant, StaffRole.ADMIN)
    token = csrf_token_in((await admin.get("/subscribers/new")).text)
    added = await admin.post(
        "/subscribers", data={"name": "Zawadi", "phone": "0712345678", "_csrf_token": token}
    )
    url = added.headers["location"]
    edit = await admin.get(f"{url}/edit")
    assert edit.status_code == 200 and "+254712345678" in edit.text
    form = {"name": "Zawadi Akinyi", "account_number": "ZA100", "phone": "0712345678, 0733111222",
            "region": "Kisumu", "_csrf_token": csrf_token_in(edit.text)}  # fmt: skip
    bad = await admin.post(f"{url}/edit", data={**form, "phone": "0712345678, 12"})
    assert bad.status_code == 400 and 'id="subscriber-phone-error"' in bad.text
    saved = await admin.post(f"{url}/edit", data=form)
    assert saved.status_code == 303
    detail = (await admin.get(url)).text
    assert "Zawadi Akinyi" in detail and "ZA100" in detail and "+254733111222" in detail
