"""Panels on a subscriber's page come from the areas assembled (tenants/subscribers/
panels.py): an area's panel appears, for staff holding its scope, with no edit elsewhere;
without the channels (no Messages panel to add) the page is the same page without it."""

from __future__ import annotations

from pathlib import Path

import httpx
from kiunga.platform.areas import Area, assemble, installed, load_areas
from kiunga.platform.auth.scopes import Scope
from kiunga.platform.hooks import Hook
from kiunga.platform.models import StaffRole
from kiunga.platform.web.app import create_app
from kiunga.tenants.actors import Actor
from kiunga.tenants.subscribers.panels import SUBSCRIBER_PANEL, PanelRequest, SubscriberPanel
from kiunga.tenants.subscribers.service import SubscriberFields, create_subscriber

from fixtures.web import PASSWORD, csrf_token_of

CHANNEL_AREAS = {"portal", "messages", "conversations", "selfcare", "phone"}
TOY_SCOPE = "toys:read"
TEMPLATES = Path(__file__).resolve().parent / "panel_templates"


async def toy_values(request: PanelRequest) -> dict:
    return {"kites": 3, "subscriber_id": request.subscriber_id}


TOY_PANEL = SubscriberPanel(
    name="toys",
    title="Toys",
    scope=TOY_SCOPE,
    template="toys/panel.html",
    load=toy_values,
)
TOY = Area(
    name="toys",
    templates=(TEMPLATES,),
    scopes=(Scope(TOY_SCOPE, roles={StaffRole.OWNER}),),
    hooks=(Hook(SUBSCRIBER_PANEL, TOY_PANEL),),
)


async def _login(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    answer = await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "_csrf_token": csrf_token_of(page.text)},
    )
    assert answer.status_code == 303, answer.text


async def test_panels_are_the_assembled_areas_and_the_page_needs_no_channel(
    settings, database_url, redis_url, make_tenant, make_staff, unit_of_work
):
    tenant = make_tenant("panels")
    async with unit_of_work(tenant) as session:
        subscriber = await create_subscriber(
            session, SubscriberFields(name="Achieng Otieno"), actor=Actor.system("test")
        )
    areas = (*(a for a in load_areas() if a.name not in CHANNEL_AREAS), TOY)
    assert {a.name for a in load_areas()} >= CHANNEL_AREAS  # named as pyproject.toml lists them
    with installed(assemble(areas)):
        app = create_app(settings, database_url, redis_url, areas=areas)
        try:
            transport = httpx.ASGITransport(app=app)
            seen = {}
            for role in (StaffRole.OWNER, StaffRole.SUPPORT):
                async with httpx.AsyncClient(
                    transport=transport, base_url=f"http://{tenant.host}"
                ) as client:
                    await _login(client, make_staff(tenant.id, role))
                    page = await client.get(f"/subscribers/{subscriber.id}")
                assert page.status_code == 200, (role, page.text[:500])
                assert "Achieng Otieno" in page.text and "Status history" in page.text
                # No channels: no Messages panel, and no link to a Messages page.
                assert 'id="panel-messages"' not in page.text
                assert "/messages?subscriber_id" not in page.text
                seen[role] = page.text
        finally:
            await app.state.services.close()
    # The toy's panel for those holding its scope (the owner), not for support.
    assert 'id="panel-toys"' in seen[StaffRole.OWNER]
    assert f"3 kites for subscriber {subscriber.id}" in seen[StaffRole.OWNER]
    assert 'id="panel-toys"' not in seen[StaffRole.SUPPORT]
    assert "kites" not in seen[StaffRole.SUPPORT]
