"""The provisioning queue over the API (GET /api/v1/routers/{id}/commands, POST …/sync)
and on the console's router page (pending changes, recent commands, "Sync now")."""

from __future__ import annotations

from urllib.parse import unquote_plus

from kiunga.platform.models import StaffRole

from ..conftest import api_router
from fixtures.provisioning import PPP_SECRET, Isp


async def test_sync_and_commands_over_the_api(api, tenant, unit_of_work, database, mikrotik):
    router = (await api.post("/api/v1/routers", json=api_router(mikrotik.port))).json()
    isp = Isp(tenant, unit_of_work, database, router_id=router["id"])
    package = await isp.add_package()
    await isp.add_service(package, username="api-user", password="pw-api-1")

    synced = await api.post(f"/api/v1/routers/{router['id']}/sync")
    assert synced.status_code == 202, synced.text
    body = synced.json()
    assert body["kind"] == "sync_all" and body["status"] == "done" and body["attempts"] == 1
    assert "added PPP secret api-user" in body["summary"]
    assert mikrotik.state.find(PPP_SECRET, name="api-user")

    listed = await api.get(f"/api/v1/routers/{router['id']}/commands")
    assert listed.status_code == 200
    assert listed.json()["pending"] == 0 and listed.json()["commands"][0]["id"] == body["id"]

    mikrotik.offline()
    waiting = (await api.post(f"/api/v1/routers/{router['id']}/sync")).json()
    assert waiting["status"] == "pending" and waiting["last_error"].startswith("Unreachable")
    assert (await api.get(f"/api/v1/routers/{router['id']}/commands")).json()["pending"] == 1
    # Asked again while it waits: the waiting sync is the answer, not a second one.
    again = (await api.post(f"/api/v1/routers/{router['id']}/sync")).json()
    assert again["id"] == waiting["id"]

    assert (await api.get("/api/v1/routers/999999/commands")).status_code == 404
    assert (await api.post("/api/v1/routers/999999/sync")).status_code == 404


async def test_the_router_page_shows_the_queue_and_syncs(
    signed_in, csrf_token_in, tenant, unit_of_work, database, mikrotik, make_key, client_for
):
    technician = await signed_in(StaffRole.TECHNICIAN)
    page = await technician.get("/routers/new")
    token = csrf_token_in(page.text)
    api = client_for(tenant.host)
    key = make_key(tenant.id, scopes=("network:read", "network:write"))
    api.headers["Authorization"] = f"Bearer {key}"
    router = (await api.post("/api/v1/routers", json=api_router(mikrotik.port))).json()
    isp = Isp(tenant, unit_of_work, database, router_id=router["id"])
    await isp.add_service(await isp.add_package(), username="page-user", password="pw-page")

    detail = await technician.get(f"/routers/{router['id']}")
    assert detail.status_code == 200
    assert "Pending changes" in detail.text and "Sync now" in detail.text
    assert "suspended-drop" in detail.text  # what static suspension needs of the router
    synced = await technician.post(f"/routers/{router['id']}/sync", data={"_csrf_token": token})
    assert synced.status_code == 303
    assert "added PPP secret page-user" in unquote_plus(synced.headers["location"])
    after = await technician.get(f"/routers/{router['id']}")
    assert "sync all" in after.text and "Nothing waiting" in after.text
    assert "added PPP secret page-user" in after.text

    mikrotik.offline()
    queued = await technician.post(f"/routers/{router['id']}/sync", data={"_csrf_token": token})
    assert "it will be tried again: Unreachable" in unquote_plus(queued.headers["location"])
    waiting = await technician.get(f"/routers/{router['id']}")
    assert "<strong>1</strong> change waiting" in waiting.text
    assert 'class="field-error">Unreachable' in waiting.text

    support = await signed_in(StaffRole.SUPPORT)
    looked = await support.get(f"/routers/{router['id']}")
    assert looked.status_code == 200 and "Pending changes" in looked.text
    assert "Sync now" not in looked.text
    own_token = csrf_token_in(looked.text)
    refused = await support.post(f"/routers/{router['id']}/sync", data={"_csrf_token": own_token})
    assert refused.status_code == 403
    assert len((await api.get(f"/api/v1/routers/{router['id']}/commands")).json()["commands"]) == 2


async def test_a_radius_mode_router_is_not_synced(api):
    from ..conftest import radius_router

    router = (await api.post("/api/v1/routers", json=radius_router("10.9.8.1"))).json()
    refused = await api.post(f"/api/v1/routers/{router['id']}/sync")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "mode"
    listed = (await api.get(f"/api/v1/routers/{router['id']}/commands")).json()
    assert listed == {"pending": 0, "commands": []}
