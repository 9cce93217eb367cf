"""/api/v1/services and the console's services page, against the real app."""

from __future__ import annotations

from kiunga.platform.models import StaffRole
from kiunga.tenants.catalog.models import BillingType

READ = ("services:read",)
WRITE = ("services:read", "services:write")
ALL = ("services:read", "services:write", "billing:write")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_create_list_act_and_change_package(
    client_for, tenant, make_key, add_subscriber, add_package, topics, check_invariants
):
    client, key = client_for(tenant.host), make_key(tenant.id, ALL)
    subscriber = await add_subscriber()
    postpaid = await add_package(price=200_000, billing_type=BillingType.POSTPAID)
    faster = await add_package(price=300_000, billing_type=BillingType.POSTPAID)

    created = await client.post(
        "/api/v1/services",
        json={
            "subscriber_id": subscriber,
            "package_id": postpaid,
            "username": "kamau",
            "password": "pppoe-secret",
            "mac_address": "aa-bb-cc-dd-ee-ff",
            "static_ip": "10.10.0.7",
        },
        headers=auth(key),
    )
    assert created.status_code == 201, created.text
    service = created.json()
    assert service["status"] == "active" and service["has_password"] is True
    assert service["mac_address"] == "AA:BB:CC:DD:EE:FF" and service["static_ip"] == "10.10.0.7"
    assert "pppoe-secret" not in created.text and "password_encrypted" not in created.text
    service_id = service["id"]

    listed = await client.get(
        "/api/v1/services",
        params={"subscriber_id": subscriber, "status": "active"},
        headers=auth(key),
    )
    assert listed.status_code == 200 and listed.json()["total"] == 1
    assert (
        await client.get("/api/v1/services", params={"status": "suspended"}, headers=auth(key))
    ).json()["total"] == 0
    by_package = await client.get(
        "/api/v1/services", params={"package_id": postpaid}, headers=auth(key)
    )
    assert [s["id"] for s in by_package.json()["items"]] == [service_id]

    suspended = await client.post(
        f"/api/v1/services/{service_id}/suspend", json={"reason": "router swap"}, headers=auth(key)
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    again = await client.post(f"/api/v1/services/{service_id}/suspend", headers=auth(key))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "service_id"
    restored = await client.post(f"/api/v1/services/{service_id}/restore", headers=auth(key))
    assert restored.json()["status"] == "active"

    changed = await client.post(
        f"/api/v1/services/{service_id}/change-package",
        json={"package_id": faster},
        headers=auth(key),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["package_id"] == faster

    ended = await client.post(
        f"/api/v1/services/{service_id}/terminate", json={"reason": "moved"}, headers=auth(key)
    )
    assert ended.json()["status"] == "terminated"
    got = await client.get(f"/api/v1/services/{service_id}", headers=auth(key))
    assert got.json()["terminated_at"] is not None
    assert [t for t, _ in await topics("service.")] == [
        "service.activated",
        "service.suspended",
        "service.restored",
        "service.changed",
        "service.terminated",
    ]
    await check_invariants()


async def test_bad_input_names_the_field_and_writes_nothing(
    client_for, tenant, make_key, add_subscriber, add_package, topics
):
    client, key = client_for(tenant.host), make_key(tenant.id, ALL)
    subscriber = await add_subscriber()
    package = await add_package(billing_type=BillingType.POSTPAID)

    unknown = await client.post(
        "/api/v1/services",
        json={"subscriber_id": subscriber, "package_id": 99_999},
        headers=auth(key),
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"field": "package_id", "message": "no package with id 99999"}
    ]
    not_a_number = await client.post(
        "/api/v1/services",
        json={"subscriber_id": subscriber, "package_id": "fast"},
        headers=auth(key),
    )
    assert not_a_number.status_code == 400
    assert "package_id" in not_a_number.json()["detail"]

    first = await client.post(
        "/api/v1/services",
        json={"subscriber_id": subscriber, "package_id": package, "username": "juma"},
        headers=auth(key),
    )
    assert first.status_code == 201
    overlapping = await client.post(
        f"/api/v1/services/{first.json()['id']}/activate", headers=auth(key)
    )
    assert overlapping.status_code == 409
    assert overlapping.json()["errors"][0]["field"] == "service_id"
    assert "already active" in overlapping.json()["detail"]
    same_username = await client.post(
        "/api/v1/services",
        json={"subscriber_id": subscriber, "package_id": package, "username": "juma"},
        headers=auth(key),
    )
    assert same_username.status_code == 409
    assert same_username.json()["errors"][0]["field"] == "username"
    bad_mac = await client.post(
        "/api/v1/services",
        json={"subscriber_id": subscriber, "package_id": package, "mac_address": "nope"},
        headers=auth(key),
    )
    assert bad_mac.status_code == 400 and bad_mac.json()["errors"][0]["field"] == "mac_address"
    listed = await client.get("/api/v1/services", headers=auth(key))
    assert listed.json()["total"] == 1
    assert [t for t, _ in await topics("service.")] == ["service.activated"]
    missing = await client.get("/api/v1/services/424242", headers=auth(key))
    assert missing.status_code == 404


async def test_scopes(client_for, tenant, make_key, add_subscriber, add_package):
    client = client_for(tenant.host)
    subscriber = await add_subscriber()
    package = await add_package()
    reader, writer = make_key(tenant.id, READ), make_key(tenant.id, WRITE)
    assert (await client.get("/api/v1/services", headers=auth(reader))).status_code == 200
    body = {"subscriber_id": subscriber, "package_id": package}
    assert (
        await client.post("/api/v1/services", json=body, headers=auth(reader))
    ).status_code == 403
    on_trust = await client.post(
        "/api/v1/services", json=body | {"allow_unpaid": True}, headers=auth(writer)
    )
    assert on_trust.status_code == 403 and "billing:write" in on_trust.text
    pending = await client.post("/api/v1/services", json=body, headers=auth(writer))
    assert pending.status_code == 201 and pending.json()["status"] == "pending"
    change = await client.post(
        f"/api/v1/services/{pending.json()['id']}/change-package",
        json={"package_id": package},
        headers=auth(writer),
    )
    assert change.status_code == 403
    sites_only = make_key(tenant.id, ("sites:read",))
    assert (await client.get("/api/v1/services", headers=auth(sites_only))).status_code == 403


async def test_console_actions_by_role(
    client_for, tenant, make_staff, login, csrf_token_in, add_subscriber, add_package
):
    subscriber = await add_subscriber()
    package = await add_package(billing_type=BillingType.POSTPAID)
    other = await add_package(billing_type=BillingType.POSTPAID)

    technician = client_for(tenant.host)
    await login(technician, make_staff(tenant.id, StaffRole.TECHNICIAN))
    page = await technician.get(f"/services?subscriber_id={subscriber}")
    assert page.status_code == 200 and "No services." in page.text
    token = csrf_token_in(page.text)
    added = await technician.post(
        "/services",
        data={
            "subscriber_id": str(subscriber),
            "package_id": str(package),
            "username": "console-user",
            "password": "hidden-pass",
            "_csrf_token": token,
        },
        headers={"HX-Request": "true"},
    )
    assert added.status_code == 201, added.text
    assert "console-user" in added.text and "hidden-pass" not in added.text
    assert ">Suspend<" in added.text and "Change package" not in added.text
    refused = await technician.post(
        "/services",
        data={"subscriber_id": str(subscriber), "package_id": "77777", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 400 and "no package with id 77777" in refused.text

    owner = client_for(tenant.host)
    await login(owner, make_staff(tenant.id, StaffRole.OWNER))
    page = await owner.get(f"/services?subscriber_id={subscriber}")
    assert "Change package" in page.text
    service_id = int(page.text.split('action="/services/')[1].split("/")[0])
    moved = await owner.post(
        f"/services/{service_id}/change-package",
        data={
            "package_id": str(other),
            "subscriber_id": str(subscriber),
            "_csrf_token": csrf_token_in(page.text),
        },
        headers={"HX-Request": "true"},
    )
    assert moved.status_code == 200, moved.text
    suspended = await technician.post(
        f"/services/{service_id}/suspend",
        data={"subscriber_id": str(subscriber), "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert suspended.status_code == 200 and "suspended (staff)" in suspended.text

    finance = client_for(tenant.host)
    await login(finance, make_staff(tenant.id, StaffRole.FINANCE))
    page = await finance.get("/services")
    assert page.status_code == 200 and ">Suspend<" not in page.text and ">Restore<" not in page.text


async def test_a_resellers_key_sees_only_its_own_subscribers_services(
    client_for, tenant, engine, settings, unit_of_work, add_subscriber, add_package
):
    from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync
    from kiunga.tenants.subscribers.models import Reseller, Subscriber

    async with unit_of_work() as session:
        reseller = Reseller(name="Mama Mboga Net")
        session.add(reseller)
        await session.flush()
        reseller_id = reseller.id
    own, other = await add_subscriber(), await add_subscriber()
    async with unit_of_work() as session:
        (await session.get(Subscriber, own)).reseller_id = reseller_id
    package = await add_package(billing_type=BillingType.POSTPAID)
    staff_key = create_api_key_sync(
        engine, KeyRequest(scopes=WRITE, tenant_id=tenant.id), secret_key=settings.secret_key
    ).token
    reseller_key = create_api_key_sync(
        engine,
        KeyRequest(scopes=WRITE, tenant_id=tenant.id, reseller_id=reseller_id),
        secret_key=settings.secret_key,
    ).token
    client = client_for(tenant.host)
    theirs = await client.post(
        "/api/v1/services",
        json={"subscriber_id": other, "package_id": package},
        headers=auth(staff_key),
    )
    assert theirs.status_code == 201
    mine = await client.post(
        "/api/v1/services",
        json={"subscriber_id": own, "package_id": package},
        headers=auth(reseller_key),
    )
    assert mine.status_code == 201, mine.text
    refused = await client.post(
        "/api/v1/services",
        json={"subscriber_id": other, "package_id": package},
        headers=auth(reseller_key),
    )
    assert refused.status_code == 404 and refused.json()["errors"][0]["field"] == "subscriber_id"
    listed = await client.get("/api/v1/services", headers=auth(reseller_key))
    assert [s["id"] for s in listed.json()["items"]] == [mine.json()["id"]]
    hidden = theirs.json()["id"]
    assert (
        await client.get(f"/api/v1/services/{hidden}", headers=auth(reseller_key))
    ).status_code == 404
    suspend = await client.post(f"/api/v1/services/{hidden}/suspend", headers=auth(reseller_key))
    assert suspend.status_code == 404
