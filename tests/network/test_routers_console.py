"""The console's router pages: the list with status, adding a router, its page with status
and last error, "Test connection" against the emulator, changing and removing it. Secrets
never reach a page; support looks but does not change."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from kiunga.platform.models import StaffRole

from fixtures.provisioning import ROUTER_PASSWORD


def form_for(port: int, token: str, **overrides) -> dict[str, str]:
    data = {
        "name": "Core Westlands",
        "site_id": "",
        "address": "127.0.0.1",
        "mode": "api",
        "api_port": str(port),
        "api_username": "kiunga",
        "api_password": ROUTER_PASSWORD,
        "radius_secret": "",
        "radius_source_address": "",
        "coa_port": "3799",
        "_csrf_token": token,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


async def test_add_test_change_and_remove_a_router(signed_in, csrf_token_in, mikrotik):
    admin = await signed_in(StaffRole.ADMIN)
    empty = await admin.get("/routers")
    assert empty.status_code == 200 and "No routers yet." in empty.text
    assert 'href="/routers"' in empty.text  # in the navigation
    new = await admin.get("/routers/new")
    assert new.status_code == 200
    token = csrf_token_in(new.text)

    bad = await admin.post("/routers", data=form_for(0, token))
    assert bad.status_code == 400 and 'id="router-api_port-error"' in bad.text
    assert "Nothing was saved." in bad.text and 'value="Core Westlands"' in bad.text
    assert ROUTER_PASSWORD not in bad.text
    no_secret = await admin.post("/routers", data=form_for(8728, token, mode="radius"))
    assert no_secret.status_code == 400 and 'id="router-radius_secret-error"' in no_secret.text

    added = await admin.post("/routers", data=form_for(mikrotik.port, token))
    assert added.status_code == 303, added.text
    detail_path = added.headers["location"].split("?")[0]
    assert re.fullmatch(r"/routers/\d+", detail_path)
    detail = await admin.get(detail_path)
    assert detail.status_code == 200 and "never checked" in detail.text
    assert "Test connection" in detail.text and ROUTER_PASSWORD not in detail.text
    assert "(set; leave empty to keep)" in detail.text

    tested = await admin.post(f"{detail_path}/test-connection", data={"_csrf_token": token})
    assert tested.status_code == 303
    assert "core-westlands" in unquote_plus(tested.headers["location"])
    detail = await admin.get(tested.headers["location"])
    assert "online" in detail.text and "7.18.2 (stable)" in detail.text
    assert "core-westlands" in detail.text and "MiB free of 1024 MiB" in detail.text
    listing = await admin.get("/routers")
    assert "Core Westlands" in listing.text and "online" in listing.text

    # Saving without typing the password keeps it; the port moves to a closed one.
    saved = await admin.post(
        detail_path, data=form_for(1, token, api_password="", name="Core Parklands")
    )
    assert saved.status_code == 303, saved.text
    failed = await admin.post(f"{detail_path}/test-connection", data={"_csrf_token": token})
    detail = await admin.get(failed.headers["location"])
    assert "Unreachable" in detail.text and "not answering" in detail.text
    assert "Core Parklands" in detail.text

    wrong = await admin.post(detail_path, data=form_for(1, token, address="a..b"))
    assert wrong.status_code == 400 and 'id="router-address-error"' in wrong.text
    assert ROUTER_PASSWORD not in wrong.text

    removed = await admin.post(f"{detail_path}/delete", data={"_csrf_token": token, "confirm": "1"})
    assert removed.status_code == 303
    assert "No routers yet." in (await admin.get("/routers")).text
    assert (await admin.get(detail_path)).status_code == 404


async def test_radius_settings_and_a_clash_in_the_console(
    signed_in, csrf_token_in, other_api, engine
):
    taken = await other_api.post(
        "/api/v1/routers",
        json={"name": "Theirs", "address": "10.9.5.1", "mode": "radius", "radius_secret": "x1"},
    )
    assert taken.status_code == 201
    technician = await signed_in(StaffRole.TECHNICIAN)
    token = csrf_token_in((await technician.get("/routers/new")).text)
    secret = "console-radius-secret"
    clash = await technician.post(
        "/routers",
        data=form_for(
            8728, token, mode="radius", address="10.9.5.1", radius_secret=secret, api_password=""
        ),
    )
    assert clash.status_code == 409 and 'id="router-radius_source_address-error"' in clash.text
    assert secret not in clash.text
    added = await technician.post(
        "/routers",
        data=form_for(
            8728,
            token,
            mode="radius",
            address="10.9.5.2",
            radius_secret=secret,
            api_password="",
            require_message_authenticator="1",
        ),
    )
    assert added.status_code == 303, added.text
    page = await technician.get(added.headers["location"])
    assert secret not in page.text and "10.9.5.2" in page.text
    assert re.search(r'name="require_message_authenticator" value="1"\s+checked', page.text)


async def test_support_looks_but_does_not_change(signed_in, api, csrf_token_in):
    made = await api.post(
        "/api/v1/routers",
        json={
            "name": "Core",
            "address": "10.9.6.1",
            "api_username": "kiunga",
            "api_password": ROUTER_PASSWORD,
        },
    )
    support = await signed_in(StaffRole.SUPPORT)
    listing = await support.get("/routers")
    assert listing.status_code == 200 and "Add a router" not in listing.text
    detail = await support.get(f"/routers/{made.json()['id']}")
    assert detail.status_code == 200 and "Test connection" not in detail.text
    assert 'name="api_password"' not in detail.text
    assert (await support.get("/routers/new")).status_code == 403
    token = csrf_token_in(listing.text)
    refused = await support.post(
        f"/routers/{made.json()['id']}/delete", data={"_csrf_token": token}
    )
    assert refused.status_code == 403
    finance = await signed_in(StaffRole.FINANCE)
    assert (await finance.get("/routers")).status_code == 403


async def test_the_port_follows_the_tls_box_unless_it_was_changed(signed_in, csrf_token_in, api):
    owner = await signed_in(StaffRole.OWNER)
    token = csrf_token_in((await owner.get("/routers/new")).text)
    added = await owner.post("/routers", data=form_for(8728, token, use_tls="1"))
    path = added.headers["location"].split("?")[0]
    router_id = int(path.rsplit("/", 1)[1])
    assert (await api.get(f"/api/v1/routers/{router_id}")).json()["api_port"] == 8729
    await owner.post(path, data=form_for(8729, token, api_password=""))  # TLS box cleared
    assert (await api.get(f"/api/v1/routers/{router_id}")).json()["api_port"] == 8728
    await owner.post(path, data=form_for(9000, token, api_password="", use_tls="1"))
    after = (await api.get(f"/api/v1/routers/{router_id}")).json()
    assert (after["api_port"], after["use_tls"]) == (9000, True)
