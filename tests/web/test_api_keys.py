"""An ISP's API keys: made with the full key shown once, listed without secrets, revoked."""

from kiunga.platform.models import ApiKey
from sqlalchemy import select
from sqlalchemy.orm import Session


def auth(key):
    return {"Authorization": f"Bearer {key}"}


async def test_create_use_list_and_revoke(client_for, make_tenant, make_key, engine, settings):
    tenant = make_tenant()
    manager = make_key(tenant.id, scopes=("api_keys:manage", "sites:read", "sites:write"))
    client = client_for(tenant.host)

    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "reseller portal", "scopes": ["sites:read"], "reseller_id": 42},
        headers=auth(manager),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith(f"kg_{body['prefix']}_") and len(key) > 40
    with Session(engine) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.id == body["id"]))
        assert row.tenant_id == tenant.id and row.reseller_id == 42
        assert row.scopes == ["sites:read"]
        assert key.split("_", 2)[2] not in row.secret_hash  # only an HMAC is stored
        assert len(row.secret_hash) == 64

    assert (await client.get("/api/v1/sites", headers=auth(key))).status_code == 200
    with Session(engine) as session:
        assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == body["id"]))

    listed = (await client.get("/api/v1/api-keys", headers=auth(manager))).json()
    assert body["prefix"] in [k["prefix"] for k in listed]
    assert all("key" not in k and "secret_hash" not in k for k in listed)

    revoked = await client.delete(f"/api/v1/api-keys/{body['id']}", headers=auth(manager))
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/sites", headers=auth(key))).status_code == 401


async def test_keys_of_another_isp_are_out_of_reach(client_for, make_tenant, make_key, engine):
    first, second = make_tenant(), make_tenant()
    first_key = make_key(first.id, scopes=("sites:read",))
    with Session(engine) as session:
        first_key_id = session.scalar(
            select(ApiKey.id).where(ApiKey.prefix == first_key.split("_")[1])
        )
    second_manager = make_key(second.id, scopes=("api_keys:manage",))
    b = client_for(second.host)
    listed = await b.get("/api/v1/api-keys", headers=auth(second_manager))
    assert listed.status_code == 200
    assert first_key_id not in [k["id"] for k in listed.json()]
    attempt = await b.delete(f"/api/v1/api-keys/{first_key_id}", headers=auth(second_manager))
    assert attempt.status_code == 404
    still = await client_for(first.host).get("/api/v1/sites", headers=auth(first_key))
    assert still.status_code == 200


async def test_a_key_cannot_grant_more_than_it_holds(client_for, make_tenant, make_key):
    tenant = make_tenant()
    manager = make_key(tenant.id, scopes=("api_keys:manage", "sites:read"))
    client = client_for(tenant.host)
    wider = await client.post(
        "/api/v1/api-keys", json={"scopes": ["sites:write"]}, headers=auth(manager)
    )
    assert wider.status_code == 403
    platform_scope = await client.post(
        "/api/v1/api-keys", json={"scopes": ["platform:tenants"]}, headers=auth(manager)
    )
    assert platform_scope.status_code in (400, 403)
    unknown = await client.post("/api/v1/api-keys", json={"scopes": []}, headers=auth(manager))
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "scopes"


async def test_owner_session_manages_keys(client_for, make_tenant, login, csrf_token_in):
    tenant = make_tenant()
    client = client_for(tenant.host)
    await login(client, tenant.owner_email, "correct horse battery")
    token = csrf_token_in((await client.get("/")).text)
    created = await client.post(
        "/api/v1/api-keys",
        json={"scopes": ["sites:read", "platform:tenants"]},
        headers={"x-csrftoken": token},
    )
    assert created.status_code == 400
    assert created.json()["errors"][0]["field"] == "scopes"
    created = await client.post(
        "/api/v1/api-keys", json={"scopes": ["sites:read"]}, headers={"x-csrftoken": token}
    )
    assert created.status_code == 201
    key = created.json()["key"]
    fresh = client_for(tenant.host)
    assert (await fresh.get("/api/v1/sites", headers=auth(key))).status_code == 200
