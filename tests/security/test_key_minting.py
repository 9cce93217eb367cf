"""A key makes keys only within itself, and a reseller's key holds only reseller scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kiunga.platform.areas import assemble
from kiunga.platform.auth.api_keys import (
    ApiKeyError,
    KeyNotAllowed,
    KeyRequest,
    bounded_by_caller,
    create_api_key_sync,
)
from kiunga.platform.auth.principals import ApiKeyPrincipal
from kiunga.platform.db.base import utcnow
from kiunga.platform.models import ApiKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fixtures.web import auth

# The assembled areas' scope table, as the app and the worker install it.
_SCOPES = assemble().scopes
ISP_WIDE_SCOPES = _SCOPES.isp_wide
RESELLER_SCOPES = _SCOPES.fenced
TENANT_SCOPES = _SCOPES.tenant


def key_count(engine, tenant_id: int) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(ApiKey.tenant_id == tenant_id))


async def test_a_reseller_key_cannot_be_made_with_an_isp_wide_scope(
    make_tenant, make_key, add_reseller, client_for, engine, settings
):
    tenant = make_tenant("mint")
    reseller_id = add_reseller(tenant)
    owner = client_for(tenant.host)
    owner.headers.update(auth(make_key(tenant.id, scopes=sorted(TENANT_SCOPES))))

    for scope in sorted(ISP_WIDE_SCOPES):
        refused = await owner.post(
            "/api/v1/api-keys",
            json={"scopes": ["subscribers:read", scope], "reseller_id": reseller_id},
        )
        assert refused.status_code == 400, (scope, refused.text)
        assert refused.json()["errors"][0]["field"] == "scopes"
        with pytest.raises(ApiKeyError):
            create_api_key_sync(
                engine,
                KeyRequest(scopes=[scope], tenant_id=tenant.id, reseller_id=reseller_id),
                secret_key=settings.secret_key,
            )

    made = await owner.post(
        "/api/v1/api-keys",
        json={"scopes": sorted(RESELLER_SCOPES), "reseller_id": reseller_id},
    )
    assert made.status_code == 201, made.text


async def test_a_reseller_key_with_api_keys_manage_cannot_list_revoke_or_mint(
    make_tenant, make_key, make_legacy_reseller_key, add_reseller, client_for, engine
):
    """The probe's path: a reseller key holding api_keys:manage minted an unfenced key."""
    tenant = make_tenant("mint")
    mine, theirs = add_reseller(tenant), add_reseller(tenant)
    owner = client_for(tenant.host)
    owner.headers.update(auth(make_key(tenant.id, scopes=sorted(TENANT_SCOPES))))
    their_subscriber = await owner.post(
        "/api/v1/subscribers", json={"name": "Of another reseller", "reseller_id": theirs}
    )
    assert their_subscriber.status_code == 201, their_subscriber.text
    reseller = client_for(tenant.host)
    reseller.headers.update(auth(make_legacy_reseller_key(tenant.id, mine, TENANT_SCOPES)))
    before = key_count(engine, tenant.id)

    assert (await reseller.get("/api/v1/api-keys")).status_code == 403
    minted = await reseller.post("/api/v1/api-keys", json={"scopes": ["subscribers:read"]})
    assert minted.status_code == 403
    owner_key_id = (await owner.get("/api/v1/api-keys")).json()[0]["id"]
    assert (await reseller.delete(f"/api/v1/api-keys/{owner_key_id}")).status_code == 403

    assert key_count(engine, tenant.id) == before
    listed = await reseller.get("/api/v1/subscribers")
    assert listed.status_code == 200
    assert their_subscriber.json()["id"] not in [row["id"] for row in listed.json()["items"]]


async def test_a_key_mints_only_its_own_scopes_and_never_outlives_itself(
    make_tenant, make_key, client_for, engine
):
    tenant = make_tenant("mint")
    expires = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    parent = client_for(tenant.host)
    parent.headers.update(
        auth(make_key(tenant.id, scopes=("api_keys:manage", "sites:read"), expires_at=expires))
    )

    wider = await parent.post("/api/v1/api-keys", json={"scopes": ["sites:read", "sites:write"]})
    assert wider.status_code == 403, wider.text
    later = expires + timedelta(days=1)
    outliving = await parent.post(
        "/api/v1/api-keys", json={"scopes": ["sites:read"], "expires_at": later.isoformat()}
    )
    assert outliving.status_code == 403, outliving.text

    unbounded = await parent.post("/api/v1/api-keys", json={"scopes": ["sites:read"]})
    assert unbounded.status_code == 201, unbounded.text
    with Session(engine) as session:
        child = session.get(ApiKey, unbounded.json()["id"])
        assert child.expires_at == expires
    sooner = expires - timedelta(days=1)
    bounded = await parent.post(
        "/api/v1/api-keys", json={"scopes": ["sites:read"], "expires_at": sooner.isoformat()}
    )
    assert bounded.status_code == 201, bounded.text


def test_a_fenced_key_makes_keys_only_for_its_own_reseller():
    caller = ApiKeyPrincipal(
        key_id=1, prefix="abcdef01", tenant_id=7, reseller_id=3, scopes=RESELLER_SCOPES
    )
    other = KeyRequest(scopes=["subscribers:read"], tenant_id=7, reseller_id=4)
    with pytest.raises(KeyNotAllowed) as refused:
        bounded_by_caller(other, caller)
    assert refused.value.field == "reseller_id"
    unfenced = KeyRequest(scopes=["subscribers:read"], tenant_id=7)
    assert bounded_by_caller(unfenced, caller).reseller_id == 3
