"""/metrics answers on the platform's bare base domain, or to a scraper holding the metrics
token; an ISP's host or a bare address without the token finds nothing."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from kiunga.platform.web.app import create_app

TOKEN = "scrape-7f3a9c1e5b"


@pytest.fixture
async def metrics_app(settings, database_url, redis_url):
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN), database_url, redis_url)
    yield app
    await app.services.close()


async def _metrics(app, host: str, token: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 50000))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_only_on_the_platform_host_or_with_the_token(
    metrics_app, keyed_tenant, settings
):
    assert (await _metrics(metrics_app, keyed_tenant.host)).status_code == 404
    assert (await _metrics(metrics_app, "10.0.0.1")).status_code == 404
    assert (await _metrics(metrics_app, "10.0.0.1", "wrong-token")).status_code == 404
    by_token = await _metrics(metrics_app, "10.0.0.1", TOKEN)
    assert by_token.status_code == 200 and "# TYPE" in by_token.text
    assert (await _metrics(metrics_app, settings.base_domain)).status_code == 200
