"""The platform API creates, lists and disables ISPs, on the base domain only."""

import pytest
from kiunga.platform.models import Tenant
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session


def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def platform_key(make_key):
    return make_key(None, scopes=("platform:tenants",))


def tenant_count(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Tenant))


def schema_names(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars())


async def test_creates_a_tenant_that_answers_at_once(client_for, base_host, platform_key):
    api = client_for(base_host)
    slug = "kilimanet-api"
    response = await api.post(
        "/platform/api/tenants",
        json={"slug": slug, "name": "KilimaNet", "owner_email": "Owner@KilimaNet.example"},
        headers=auth(platform_key),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["slug"] == slug and body["schema"] == "t_kilimanet_api"
    assert body["host"] == f"{slug}.{base_host}"
    assert body["owner_email"] == "owner@kilimanet.example"
    assert body["owner_password"]  # generated, shown once

    login_page = await client_for(body["host"]).get("/login")
    assert login_page.status_code == 200 and "KilimaNet" in login_page.text

    listed = await api.get("/platform/api/tenants", headers=auth(platform_key))
    assert slug in [t["slug"] for t in listed.json()]


@pytest.mark.parametrize(
    "slug",
    ["UPPERCASE", "x" * 40, "platform", "public", "pg_x", "information_schema", "", "9lives"],
)
async def test_bad_slugs_are_400_naming_the_field_and_create_nothing(
    client_for, base_host, platform_key, engine, slug
):
    before_tenants, before_schemas = tenant_count(engine), schema_names(engine)
    response = await client_for(base_host).post(
        "/platform/api/tenants",
        json={"slug": slug, "name": "Bad", "owner_email": f"owner{len(slug)}@bad.example"},
        headers=auth(platform_key),
    )
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors[0]["field"] == "slug" and errors[0]["message"]
    assert tenant_count(engine) == before_tenants
    assert schema_names(engine) == before_schemas


async def test_other_bad_input_names_its_field(client_for, base_host, platform_key):
    api = client_for(base_host)
    for body, field in (
        ({"slug": "fine-slug", "name": "", "owner_email": "a@b.example"}, "name"),
        ({"slug": "fine-slug", "name": "Fine", "owner_email": "not-an-email"}, "owner_email"),
        ({"slug": "fine-slug", "name": "Fine"}, "owner_email"),
    ):
        response = await api.post("/platform/api/tenants", json=body, headers=auth(platform_key))
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field


async def test_duplicate_slug_is_409(client_for, base_host, platform_key, make_tenant, engine):
    existing = make_tenant()
    before = tenant_count(engine)
    response = await client_for(base_host).post(
        "/platform/api/tenants",
        json={"slug": existing.slug, "name": "Again", "owner_email": "again@example.test"},
        headers=auth(platform_key),
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "slug"
    assert tenant_count(engine) == before


async def test_disable_takes_the_tenant_offline(client_for, base_host, platform_key, make_tenant):
    tenant = make_tenant()
    isp = client_for(tenant.host)
    assert (await isp.get("/login")).status_code == 200  # now cached as active
    response = await client_for(base_host).post(
        f"/platform/api/tenants/{tenant.slug}/disable", headers=auth(platform_key)
    )
    assert response.status_code == 200 and response.json()["status"] == "disabled"
    assert (await isp.get("/login")).status_code == 403
    missing = await client_for(base_host).post(
        "/platform/api/tenants/no-such-isp/disable", headers=auth(platform_key)
    )
    assert missing.status_code == 404


async def test_only_platform_credentials_on_the_base_domain(
    client_for, base_host, platform_key, make_tenant, make_key
):
    tenant = make_tenant()
    tenant_key = make_key(tenant.id, scopes=("sites:read", "sites:write", "api_keys:manage"))
    api = client_for(base_host)
    assert (await api.get("/platform/api/tenants")).status_code == 401
    # A tenant key on the base domain speaks for its tenant, which has no platform scope.
    assert (await api.get("/platform/api/tenants", headers=auth(tenant_key))).status_code == 404
    # The platform API does not exist on an ISP's host, whatever the key.
    isp = client_for(tenant.host)
    assert (await isp.get("/platform/api/tenants", headers=auth(tenant_key))).status_code == 404
    assert (await isp.get("/platform/api/tenants", headers=auth(platform_key))).status_code == 401


async def test_platform_console_creates_a_tenant_and_shows_errors_by_the_field(
    client_for, base_host, make_staff, login, csrf_token_in, engine
):
    admin = client_for(base_host)
    await login(admin, make_staff(platform_admin=True))
    token = csrf_token_in((await admin.get("/platform")).text)
    before = tenant_count(engine)
    bad = await admin.post(
        "/platform/tenants",
        data={
            "slug": "pg_nope",
            "name": "Nope",
            "owner_email": "n@nope.example",
            "_csrf_token": token,
        },
    )
    assert bad.status_code == 400
    assert '<span class="field-error" id="slug-error">' in bad.text
    assert "reserved" in bad.text
    assert tenant_count(engine) == before

    good = await admin.post(
        "/platform/tenants",
        data={
            "slug": "console-made",
            "name": "Console Made",
            "owner_email": "owner@console-made.example",
            "_csrf_token": token,
        },
    )
    assert good.status_code == 201
    assert "console-made.kiunga.test" in good.text and "shown once" in good.text
    assert tenant_count(engine) == before + 1
