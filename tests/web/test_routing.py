"""Host → tenant resolution fails closed, and every response carries its request id."""

from kiunga.platform.models import DomainKind, TenantDomain, TenantStatus
from kiunga.platform.tenant_admin import set_tenant_status
from sqlalchemy import event
from sqlalchemy.orm import Session


async def test_unknown_hosts_are_404_never_a_default_tenant(client_for, make_tenant, settings):
    make_tenant()  # there is a tenant, yet none of these hosts is it
    for host in (
        "nobody.example.com",
        f"nosuch.{settings.base_domain}",
        f"a.b.{settings.base_domain}",  # deeper than one label
        f"www.{settings.base_domain}",
        f"{settings.base_domain}.evil.example",
        "127.0.0.1",
    ):
        response = await client_for(host).get("/api/v1/sites")
        assert response.status_code == 404, host
        assert response.json()["detail"] == "No ISP is served at this address"
        assert (await client_for(host).get("/login")).status_code == 404, host


async def test_host_matching_ignores_port_and_case(client_for, make_tenant, make_key):
    tenant = make_tenant()
    key = make_key(tenant.id)
    client = client_for(tenant.host.upper() + ":8443")
    response = await client.get("/api/v1/sites", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


async def test_custom_domain_names_its_tenant(client_for, make_tenant, make_key, engine):
    tenant = make_tenant()
    with Session(engine) as session, session.begin():
        session.add(
            TenantDomain(tenant_id=tenant.id, host="wifi.example.co.ke", kind=DomainKind.CUSTOM)
        )
    key = make_key(tenant.id)
    client = client_for("WiFi.Example.co.ke")
    created = await client.post(
        "/api/v1/sites", json={"name": "Githurai"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert created.status_code == 201, created.text
    page = await client.get("/login")
    assert tenant.name in page.text


async def test_disabled_tenant_is_refused_with_a_clear_message(client_for, make_tenant, engine):
    tenant = make_tenant()
    set_tenant_status(engine, tenant.slug, TenantStatus.DISABLED)
    response = await client_for(tenant.host).get("/login")
    assert response.status_code == 403
    assert "disabled" in response.text


async def test_probes_answer_on_any_host(client_for):
    response = await client_for("10.0.0.7:8000").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_request_id_is_echoed_or_made_even_for_errors(client_for, make_tenant):
    tenant = make_tenant()
    client = client_for(tenant.host)
    echoed = await client.get("/login", headers={"X-Request-ID": "req-abc.123"})
    assert echoed.headers["x-request-id"] == "req-abc.123"
    made = await client_for("unknown.example").get("/api/v1/sites")
    assert made.status_code == 404
    assert len(made.headers["x-request-id"]) == 32
    no_route = await client.get("/no/such/route", headers={"X-Request-ID": "nr-1"})
    assert no_route.status_code == 404 and no_route.headers["x-request-id"] == "nr-1"
    # A header that could forge log lines is replaced, not echoed.
    forged = await client.get("/login", headers={"X-Request-ID": 'x" level=error'})
    assert forged.headers["x-request-id"] != 'x" level=error'


async def test_resolution_is_cached_between_requests(app, client_for, make_tenant, make_key):
    tenant = make_tenant()
    key = make_key(tenant.id, scopes=("sites:read",))
    client = client_for(tenant.host)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/sites", headers=headers)).status_code == 200

    platform_queries = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "platform." in statement:
            platform_queries.append(statement)

    sync_engine = app.services.database.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert (await client.get("/api/v1/sites", headers=headers)).status_code == 200
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    # Host and key came from the in-process cache; only tenant-schema queries ran.
    assert platform_queries == []
    assert app.services.tenants.cache_sizes["host"] >= 1
