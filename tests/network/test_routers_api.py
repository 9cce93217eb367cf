"""/api/v1/routers: add, list, read, change and remove routers; bad input named by field;
secrets encrypted at rest and never shown; one ISP never sees another's routers; who may."""

from __future__ import annotations

import pytest
from kiunga.platform.auth.api_keys import ApiKeyError, KeyRequest, create_api_key_sync
from kiunga.platform.models import StaffRole
from kiunga.tenants.network import secrets
from sqlalchemy import text

from .conftest import api_router
from fixtures.provisioning import ROUTER_PASSWORD
from fixtures.web import auth


async def test_add_list_read_change_and_remove(api):
    site = await api.post("/api/v1/sites", json={"name": "Westlands"})
    # The sites API needs sites:write, which this key lacks: make the site another way.
    assert site.status_code == 403

    made = await api.post("/api/v1/routers", json=api_router(8728, address="Core-1.ISP.example."))
    assert made.status_code == 201, made.text
    router = made.json()
    assert router["name"] == "Core Westlands" and router["address"] == "core-1.isp.example"
    assert router["mode"] == "api" and router["api_port"] == 8728 and not router["use_tls"]
    assert router["api_username"] == "kiunga" and router["api_password_set"] is True
    assert router["radius_secret_set"] is False and router["coa_port"] == 3799
    assert router["radius_source_address"] is None  # a host name: no default address
    assert router["online"] is False and router["last_seen_at"] is None
    assert "api_password" not in router and "radius_secret" not in router

    tls = await api.post(
        "/api/v1/routers",
        json={**api_router(0), "name": "Edge Kilimani", "use_tls": True, "api_port": None},
    )
    assert tls.status_code == 201, tls.text
    assert tls.json()["api_port"] == 8729 and tls.json()["use_tls"] is True

    listed = (await api.get("/api/v1/routers")).json()
    assert [r["name"] for r in listed] == ["Core Westlands", "Edge Kilimani"]
    one = await api.get(f"/api/v1/routers/{router['id']}")
    assert one.status_code == 200 and one.json()["name"] == "Core Westlands"

    changed = await api.patch(
        f"/api/v1/routers/{router['id']}",
        json={"name": "Core Parklands", "address": "10.20.0.1", "use_tls": True},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "Core Parklands" and body["address"] == "10.20.0.1"
    # The port follows TLS when it was one of the two defaults; the password is kept.
    assert body["api_port"] == 8729 and body["api_password_set"] is True
    assert body["radius_source_address"] == "10.20.0.1"
    own_port = await api.patch(f"/api/v1/routers/{router['id']}", json={"api_port": 18729})
    assert own_port.json()["api_port"] == 18729
    kept = await api.patch(f"/api/v1/routers/{router['id']}", json={"use_tls": False})
    assert kept.json()["api_port"] == 18729

    removed = await api.delete(f"/api/v1/routers/{router['id']}")
    assert removed.status_code == 204
    assert (await api.get(f"/api/v1/routers/{router['id']}")).status_code == 404
    assert [r["name"] for r in (await api.get("/api/v1/routers")).json()] == ["Edge Kilimani"]
    assert (await api.delete(f"/api/v1/routers/{router['id']}")).status_code == 404


async def test_a_router_on_a_site(client_for, tenant, make_key, api):
    sites = client_for(tenant.host)
    sites.headers.update(auth(make_key(tenant.id, scopes=("sites:read", "sites:write"))))
    site = (await sites.post("/api/v1/sites", json={"name": "Kasarani"})).json()
    made = await api.post("/api/v1/routers", json=api_router(8728, site_id=site["id"]))
    assert made.status_code == 201 and made.json()["site_id"] == site["id"]
    by_site = await api.get("/api/v1/routers", params={"site_id": site["id"]})
    assert [r["id"] for r in by_site.json()] == [made.json()["id"]]
    assert (await sites.delete(f"/api/v1/sites/{site['id']}")).status_code == 204
    assert (await api.get(f"/api/v1/routers/{made.json()['id']}")).json()["site_id"] is None
    cleared = await api.patch(f"/api/v1/routers/{made.json()['id']}", json={"site_id": None})
    assert cleared.status_code == 200


BAD_CREATE = [
    ({"name": "   "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"address": ""}, "address"),
    ({"address": "not a host!"}, "address"),
    ({"address": "10.0.0.300"}, "address"),
    ({"address": "-bad-.example"}, "address"),
    ({"api_port": 0}, "api_port"),
    ({"api_port": 70000}, "api_port"),
    ({"api_port": "port"}, "api_port"),
    ({"coa_port": 65536}, "coa_port"),
    ({"mode": "snmp"}, "mode"),
    ({"api_username": None}, "api_username"),
    ({"api_password": None}, "api_password"),
    ({"api_password": "  "}, "api_password"),
    ({"api_password": "a\nb"}, "api_password"),
    ({"site_id": 999999}, "site_id"),
    ({"radius_source_address": "nas.example"}, "radius_source_address"),
    ({"radius_source_address": "10.0.0.0/24"}, "radius_source_address"),
    ({"mode": "radius"}, "radius_secret"),
    ({"mode": "radius", "radius_secret": "s" * 129}, "radius_secret"),
    (
        {"mode": "radius", "radius_secret": "s3cret", "address": "nas.example"},
        "radius_source_address",
    ),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CREATE)
async def test_bad_input_names_the_field_and_adds_nothing(api, change, field):
    answer = await api.post("/api/v1/routers", json=api_router(8728, **change))
    assert answer.status_code == 400, (change, answer.text)
    assert [e["field"] for e in answer.json()["errors"]] == [field], answer.text
    assert (await api.get("/api/v1/routers")).json() == []


async def test_bad_changes_change_nothing(api):
    made = (await api.post("/api/v1/routers", json=api_router(8728))).json()
    path = f"/api/v1/routers/{made['id']}"
    for change, field in (
        ({"name": "Renamed", "api_port": 0}, "api_port"),
        ({"mode": "radius"}, "radius_secret"),
        (
            {"mode": "radius", "radius_secret": "x", "address": "nas.example"},
            "radius_source_address",
        ),
        ({"api_username": None}, "api_username"),
        ({"address": "a..b"}, "address"),
    ):
        answer = await api.patch(path, json=change)
        assert answer.status_code == 400, (change, answer.text)
        assert answer.json()["errors"][0]["field"] == field, answer.text
    after = (await api.get(path)).json()
    assert after["name"] == "Core Westlands" and after["mode"] == "api"
    assert after["api_port"] == 8728 and after["address"] == "127.0.0.1"
    assert (await api.patch("/api/v1/routers/999999", json={"name": "X"})).status_code == 404


async def test_names_are_unique_within_an_isp(api, other_api):
    assert (await api.post("/api/v1/routers", json=api_router(8728))).status_code == 201
    again = await api.post(
        "/api/v1/routers", json=api_router(8728, name="core westlands", address="10.0.0.9")
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "name"
    # Another ISP may use the same name.
    assert (await other_api.post("/api/v1/routers", json=api_router(8728))).status_code == 201
    second = (
        await api.post("/api/v1/routers", json=api_router(8728, name="Edge", address="10.0.0.9"))
    ).json()
    clash = await api.patch(f"/api/v1/routers/{second['id']}", json={"name": "Core Westlands"})
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "name"


async def test_secrets_are_encrypted_at_rest_and_never_shown(api, engine, tenant, settings):
    radius_secret = "radius-shared-9931"
    made = await api.post(
        "/api/v1/routers",
        json=api_router(8728, mode="radius", radius_secret=radius_secret, address="10.1.1.1"),
    )
    assert made.status_code == 201, made.text
    with engine.connect() as connection:
        stored = connection.execute(
            text(
                "SELECT api_password_encrypted, radius_secret_encrypted "
                f'FROM "{tenant.schema}".routers'
            )
        ).one()
    password_token, secret_token = stored
    assert ROUTER_PASSWORD not in password_token and radius_secret not in secret_token
    assert secrets.decrypt(password_token, secret_key=settings.secret_key) == ROUTER_PASSWORD
    assert secrets.decrypt(secret_token, secret_key=settings.secret_key) == radius_secret
    # Each value is encrypted afresh: equal secrets do not look equal at rest.
    assert secrets.encrypt(radius_secret) != secret_token

    for answer in (
        made,
        await api.get("/api/v1/routers"),
        await api.get(f"/api/v1/routers/{made.json()['id']}"),
        await api.patch(f"/api/v1/routers/{made.json()['id']}", json={"name": "Renamed"}),
    ):
        assert ROUTER_PASSWORD not in answer.text and radius_secret not in answer.text
        assert password_token not in answer.text and secret_token not in answer.text

    # A new secret replaces the old one; leaving it out keeps it.
    await api.patch(f"/api/v1/routers/{made.json()['id']}", json={"radius_secret": "rotated-1"})
    with engine.connect() as connection:
        token = connection.execute(
            text(f'SELECT radius_secret_encrypted FROM "{tenant.schema}".routers')
        ).scalar_one()
    assert secrets.decrypt(token, secret_key=settings.secret_key) == "rotated-1"


async def test_one_isp_never_sees_anothers_routers(api, other_api):
    mine = (await api.post("/api/v1/routers", json=api_router(8728))).json()
    assert (await other_api.get("/api/v1/routers")).json() == []
    path = f"/api/v1/routers/{mine['id']}"
    assert (await other_api.get(path)).status_code == 404
    assert (await other_api.patch(path, json={"name": "Taken"})).status_code == 404
    assert (await other_api.delete(path)).status_code == 404
    assert (await other_api.post(f"{path}/test-connection")).status_code == 404
    assert (await api.get(path)).json()["name"] == "Core Westlands"


async def test_who_may_see_and_change_routers(
    client_for, tenant, make_key, make_staff, login, api, engine, settings, csrf_token_in
):
    made = (await api.post("/api/v1/routers", json=api_router(8728))).json()
    anonymous = client_for(tenant.host)
    assert (await anonymous.get("/api/v1/routers")).status_code == 401
    reader = client_for(tenant.host)
    reader.headers.update(auth(make_key(tenant.id, scopes=("network:read",))))
    assert (await reader.get("/api/v1/routers")).status_code == 200
    assert (await reader.post("/api/v1/routers", json=api_router(1))).status_code == 403
    assert (await reader.post(f"/api/v1/routers/{made['id']}/test-connection")).status_code == 403
    other_scopes = client_for(tenant.host)
    other_scopes.headers.update(auth(make_key(tenant.id, scopes=("sites:read",))))
    assert (await other_scopes.get("/api/v1/routers")).status_code == 403

    with pytest.raises(ApiKeyError):
        create_api_key_sync(
            engine,
            KeyRequest(scopes=("network:read",), tenant_id=tenant.id, reseller_id=1),
            secret_key=settings.secret_key,
        )
    reseller_key = create_api_key_sync(
        engine,
        KeyRequest(scopes=("sites:read",), tenant_id=tenant.id, reseller_id=1),
        secret_key=settings.secret_key,
    ).token
    reseller = client_for(tenant.host)
    reseller.headers.update(auth(reseller_key))
    assert (await reseller.get("/api/v1/routers")).status_code == 403

    for role, can_write in (
        (StaffRole.OWNER, True),
        (StaffRole.ADMIN, True),
        (StaffRole.TECHNICIAN, True),
        (StaffRole.SUPPORT, False),
    ):
        staff = client_for(tenant.host)
        await login(staff, make_staff(tenant.id, role=role))
        assert (await staff.get("/api/v1/routers")).status_code == 200, role
        token = csrf_token_in((await staff.get("/routers")).text)
        renamed = await staff.patch(
            f"/api/v1/routers/{made['id']}",
            json={"name": f"R {role}"},
            headers={"x-csrftoken": token},
        )
        assert renamed.status_code == (200 if can_write else 403), role
    finance = client_for(tenant.host)
    await login(finance, make_staff(tenant.id, role=StaffRole.FINANCE))
    assert (await finance.get("/api/v1/routers")).status_code == 403


async def test_the_openapi_document_describes_routers_without_secrets(client_for, base_host):
    schema = (await client_for(base_host).get("/docs/openapi.json")).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/routers"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/routers/{router_id}"])
    assert "post" in paths["/api/v1/routers/{router_id}/test-connection"]
    read = schema["components"]["schemas"]["RouterRead"]["properties"]
    assert "api_password_set" in read and "api_password" not in read
    assert "radius_secret" not in read
