"""Pages carry a Content-Security-Policy that allows scripts from /static only and no
framing; no template keeps an inline script or event handler that the policy would block."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import kiunga.platform.web.plugin as plugin
from kiunga.channels.portal import web as portal_web
from kiunga.platform.areas import assemble
from kiunga.platform.web.app import create_app

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.I)


async def test_pages_forbid_inline_scripts_and_framing(api, keyed_tenant):
    for path in ("/login", "/portal/"):
        response = await api.get(path, headers={"Authorization": ""})
        policy = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, (path, response.status_code)
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split(";")[1]


async def test_no_hsts_outside_production(api):
    response = await api.get("/api/v1/sites")
    assert "strict-transport-security" not in response.headers


def test_no_template_has_an_inline_script():
    folders = [plugin.WEB_DIR / "templates", *assemble().templates]
    portal = Path(portal_web.__file__).parent / "templates"
    offenders = []
    for folder in {*folders, portal}:
        for template in Path(folder).rglob("*.html"):
            for match in INLINE_SCRIPT.finditer(template.read_text()):
                offenders.append(f"{template.name}: {match.group(0)}")
    assert not offenders, offenders


async def test_hsts_in_production(settings, database_url, redis_url, keyed_tenant):
    app = create_app(
        dataclasses.replace(settings, environment="production"), database_url, redis_url
    )
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=f"https://{keyed_tenant.host}"
        ) as client:
            response = await client.get("/login")
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    finally:
        await app.services.close()
