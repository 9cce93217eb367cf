"""Two ISPs hold rows with the same ids: no route reads or writes across them."""

from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.models import ApiKey
from kiunga.platform.web.app import create_app
from kiunga.tenants.sites.models import Site
from sqlalchemy import select, update
from sqlalchemy.orm import Session


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def rows(engine, schema, model):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return session.scalars(select(model).order_by(model.id)).all()


@pytest.fixture
def two_isps(make_tenant, make_key):
    first, second = make_tenant(), make_tenant()
    return (first, make_key(first.id)), (second, make_key(second.id))


async def test_same_ids_stay_with_their_own_tenant(client_for, two_isps, engine):
    (first, first_key), (second, second_key) = two_isps
    a, b = client_for(first.host), client_for(second.host)
    for client, key, name in ((a, first_key, "Kasarani"), (b, second_key, "Rongai")):
        created = await client.post("/api/v1/sites", json={"name": name}, headers=auth(key))
        assert created.status_code == 201, created.text
        assert created.json()["id"] == 1

    assert (await a.get("/api/v1/sites/1", headers=auth(first_key))).json()["name"] == "Kasarani"
    assert (await b.get("/api/v1/sites/1", headers=auth(second_key))).json()["name"] == "Rongai"
    assert [s["name"] for s in (await a.get("/api/v1/sites", headers=auth(first_key))).json()] == [
        "Kasarani"
    ]

    patched = await a.patch("/api/v1/sites/1", json={"region": "Nairobi"}, headers=auth(first_key))
    assert patched.status_code == 200 and patched.json()["region"] == "Nairobi"
    assert [s.region for s in rows(engine, second.schema, Site)] == [""]

    deleted = await b.delete("/api/v1/sites/1", headers=auth(second_key))
    assert deleted.status_code == 204
    assert [s.name for s in rows(engine, first.schema, Site)] == ["Kasarani"]
    assert rows(engine, second.schema, Site) == []
    assert (await b.get("/api/v1/sites/1", headers=auth(second_key))).status_code == 404
    assert (await a.get("/api/v1/sites/1", headers=auth(first_key))).status_code == 200


async def test_a_key_works_only_on_its_own_tenants_host(client_for, two_isps, make_key, engine):
    (first, first_key), (second, _) = two_isps
    b = client_for(second.host)
    for method, path, body in (
        ("GET", "/api/v1/sites", None),
        ("POST", "/api/v1/sites", {"name": "Intruder"}),
        ("GET", "/api/v1/sites/1", None),
        ("PATCH", "/api/v1/sites/1", {"name": "Intruder"}),
        ("DELETE", "/api/v1/sites/1", None),
    ):
        response = await b.request(method, path, json=body, headers=auth(first_key))
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert rows(engine, second.schema, Site) == []
    # A platform key speaks for no ISP.
    platform_key = make_key(None, scopes=("platform:tenants",))
    assert (await b.get("/api/v1/sites", headers=auth(platform_key))).status_code == 401


async def test_on_the_base_domain_a_tenant_key_names_its_own_tenant(
    client_for, two_isps, base_host
):
    (first, first_key), (second, second_key) = two_isps
    api = client_for(base_host)
    await api.post("/api/v1/sites", json={"name": "Kasarani"}, headers=auth(first_key))
    await api.post("/api/v1/sites", json={"name": "Rongai"}, headers=auth(second_key))
    first_sites = await client_for(first.host).get("/api/v1/sites", headers=auth(first_key))
    assert [s["name"] for s in first_sites.json()] == ["Kasarani"]
    # Without a key the base domain has no tenant: the tenant API is not there.
    assert (await api.get("/api/v1/sites")).status_code == 404


async def test_unknown_malformed_and_expired_keys_are_401(client_for, make_tenant, make_key):
    tenant = make_tenant()
    client = client_for(tenant.host)
    good = make_key(tenant.id)
    prefix = good.split("_")[1]
    expired = make_key(tenant.id, expires_at=utcnow() - timedelta(minutes=1))
    for token in (
        f"kg_{prefix}_{'x' * 43}",  # a real prefix with a wrong secret
        f"kg_00000000_{'y' * 43}",  # no such key
        "not-a-key",
        expired,
    ):
        response = await client.get("/api/v1/sites", headers=auth(token))
        assert response.status_code == 401, token
    basic = await client.get("/api/v1/sites", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401
    assert (await client.get("/api/v1/sites", headers=auth(good))).status_code == 200


async def test_a_key_revoked_in_the_database_is_refused(
    settings, database_url, redis_url, make_tenant, make_key, engine
):
    # With no cache, a revocation made elsewhere (the CLI, another process) counts at
    # once; with the cache it counts within KIUNGA_TENANT_CACHE_SECONDS.
    app = create_app(replace(settings, tenant_cache_seconds=0), database_url, redis_url)
    tenant = make_tenant()
    key = make_key(tenant.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{tenant.host}") as client:
        assert (await client.get("/api/v1/sites", headers=auth(key))).status_code == 200
        with Session(engine) as session, session.begin():
            session.execute(
                update(ApiKey).where(ApiKey.prefix == key.split("_")[1]).values(revoked_at=utcnow())
            )
        assert (await client.get("/api/v1/sites", headers=auth(key))).status_code == 401
    await app.services.close()


async def test_without_credentials_the_api_is_401(client_for, make_tenant):
    tenant = make_tenant()
    response = await client_for(tenant.host).get("/api/v1/sites")
    assert response.status_code == 401


async def test_scopes_limit_what_a_key_may_do(client_for, make_tenant, make_key):
    tenant = make_tenant()
    reader = make_key(tenant.id, scopes=("sites:read",))
    client = client_for(tenant.host)
    assert (await client.get("/api/v1/sites", headers=auth(reader))).status_code == 200
    response = await client.post("/api/v1/sites", json={"name": "X"}, headers=auth(reader))
    assert response.status_code == 403
    assert "sites:write" in response.json()["detail"]


async def test_validation_and_duplicates(client_for, make_tenant, make_key, engine):
    tenant = make_tenant()
    key = make_key(tenant.id)
    client = client_for(tenant.host)

    async def post(body):
        return await client.post("/api/v1/sites", json=body, headers=auth(key))

    for body, field in (
        ({"name": "   "}, "name"),
        ({}, "name"),
        ({"name": 7}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Ok", "region": "r" * 121}, "region"),
        ({"name": "Ok", "colour": "red"}, "colour"),
    ):
        response = await post(body)
        assert response.status_code == 400, (body, response.text)
        payload = response.json()
        assert payload["errors"][0]["field"] == field, payload
        assert payload["errors"][0]["message"]
        assert payload["detail"]

    assert (await post({"name": "Kasarani"})).status_code == 201
    duplicate = await post({"name": "kasarani"})
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"] == [
        {"field": "name", "message": "a site named 'kasarani' already exists"}
    ]
    second = await post({"name": "Rongai"})
    renamed = await client.patch(
        f"/api/v1/sites/{second.json()['id']}", json={"name": "Kasarani"}, headers=auth(key)
    )
    assert renamed.status_code == 409
    assert [s.name for s in rows(engine, tenant.schema, Site)] == ["Kasarani", "Rongai"]


async def test_creating_a_site_emits_its_event_in_its_own_tenant(client_for, two_isps, engine):
    (first, first_key), (second, _) = two_isps
    created = await client_for(first.host).post(
        "/api/v1/sites", json={"name": "Kasarani"}, headers=auth(first_key)
    )
    events = rows(engine, first.schema, OutboxEvent)
    assert [(e.topic, e.payload) for e in events] == [
        ("site.created", {"site_id": created.json()["id"], "name": "Kasarani"})
    ]
    assert rows(engine, second.schema, OutboxEvent) == []
