"""Health, readiness, metrics, OpenAPI docs and request logs."""

import logging
import re

import httpx
from kiunga.platform.web.app import create_app


async def test_readiness_reports_both_services(client_for):
    response = await client_for("10.1.2.3").get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_readiness_names_a_broken_redis(settings, database_url):
    app = create_app(settings, database_url, "redis://127.0.0.1:1/0")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3") as client:
        response = await client.get("/readyz")
    await app.services.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] != "ok" and "Connection" in body["checks"]["redis"]
    # The liveness probe does not depend on either.


async def test_readiness_names_a_broken_database(settings, redis_url):
    app = create_app(settings, "postgresql+psycopg://nobody@127.0.0.1:1/none", redis_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3") as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    await app.services.close()
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"] == "ok"
    assert ready.json()["checks"]["database"] != "ok"
    assert alive.status_code == 200


async def test_metrics_count_requests_by_route(client_for, make_tenant, make_key, base_host):
    tenant = make_tenant()
    key = make_key(tenant.id)
    client = client_for(tenant.host)
    for site_id in (1, 2, 3):
        await client.get(f"/api/v1/sites/{site_id}", headers={"Authorization": f"Bearer {key}"})
    metrics = await client_for(base_host).get("/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert "kiunga_http_requests_total{" in text
    assert 'path="/api/v1/sites/{site_id}"' in text  # by route, not by raw path
    assert 'path="/api/v1/sites/2"' not in text
    assert "kiunga_http_request_duration_seconds_bucket{" in text
    assert 'kiunga_tenant_resolution_cache_entries{cache="host"}' in text
    assert "kiunga_tenant_resolutions_total{" in text


async def test_openapi_docs_are_served(client_for, base_host):
    client = client_for(base_host)
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # Every asset the page loads is ours: the docs work on a machine without internet.
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(url.startswith("/static/") for url in assets), assets
    for url in assets:
        assert (await client.get(url)).status_code == 200, url
    schema = (await client.get("/docs/openapi.json")).json()
    assert {"/api/v1/sites", "/api/v1/sites/{site_id}", "/platform/api/tenants"} <= set(
        schema["paths"]
    )
    assert "/login" not in schema["paths"]  # console pages are not API
    assert schema["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


async def test_logs_carry_request_id_and_tenant_but_never_the_key(
    client_for, make_tenant, make_key, caplog
):
    tenant = make_tenant()
    key = make_key(tenant.id)
    caplog.set_level(logging.INFO)
    response = await client_for(tenant.host).post(
        "/api/v1/sites",
        json={"name": "Kasarani"},
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": "trace-77"},
    )
    assert response.status_code == 201
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    created = [e for e in events if e.get("event") == "site created"]
    assert created and created[0]["request_id"] == "trace-77"
    assert created[0]["tenant"] == tenant.slug
    request_lines = [
        e for e in events if e.get("event") == "request" and e.get("request_id") == "trace-77"
    ]
    assert request_lines and request_lines[0]["status"] == 201
    assert request_lines[0]["tenant"] == tenant.slug
    everything = " ".join(str(r.msg) + r.getMessage() for r in caplog.records)
    assert key.split("_", 2)[2] not in everything
    assert "Bearer" not in everything
