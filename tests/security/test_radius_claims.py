"""A RADIUS source address held by one ISP's router is shown to the platform's operators,
who can release it to the ISP that shows it is theirs (not first come, held for ever)."""

from __future__ import annotations

import re

from kiunga.platform.areas import assemble

from fixtures.web import auth

# The assembled areas' scope table, as the app and the worker install it.
_SCOPES = assemble().scopes
TENANT_SCOPES = _SCOPES.tenant

ADDRESS = "41.90.12.7"


def radius_router(name: str) -> dict:
    return {
        "name": name,
        "address": ADDRESS,
        "mode": "radius",
        "radius_secret": "radius-shared-9931",
    }


async def test_the_platform_admin_sees_who_holds_an_address_and_releases_it(
    make_tenant, make_key, make_staff, client_for, login, csrf_token_in, base_host
):
    squatter, owner = make_tenant("nas"), make_tenant("nas")
    squatting = client_for(squatter.host)
    squatting.headers.update(auth(make_key(squatter.id, scopes=sorted(TENANT_SCOPES))))
    rightful = client_for(owner.host)
    rightful.headers.update(auth(make_key(owner.id, scopes=sorted(TENANT_SCOPES))))

    held = await squatting.post("/api/v1/routers", json=radius_router("Not theirs"))
    assert held.status_code == 201, held.text
    refused = await rightful.post("/api/v1/routers", json=radius_router("Ours"))
    assert refused.status_code == 409
    assert squatter.slug not in refused.text  # never whose it is

    admin = client_for(base_host)
    assert (await login(admin, make_staff(platform_admin=True))).status_code == 303
    listed = await admin.get("/platform/radius-clients")
    assert listed.status_code == 200
    row = re.search(rf"<code>{re.escape(ADDRESS)}</code>.*?</tr>", listed.text, re.S)
    assert row and squatter.slug in row.group(0) and str(held.json()["id"]) in row.group(0)

    # An ISP's own staff never reach the page.
    isp_staff = client_for(squatter.host)
    assert (await login(isp_staff, squatter.owner_email)).status_code == 303
    assert (await isp_staff.get("/platform/radius-clients")).status_code == 404

    released = await admin.post(
        f"/platform/radius-clients/{ADDRESS}/release",
        data={"_csrf_token": csrf_token_in(listed.text)},
    )
    assert released.status_code == 303
    again = await admin.post(
        f"/platform/radius-clients/{ADDRESS}/release",
        data={"_csrf_token": csrf_token_in(listed.text)},
    )
    assert again.status_code == 404

    claimed = await rightful.post("/api/v1/routers", json=radius_router("Ours"))
    assert claimed.status_code == 201, claimed.text
    after = await admin.get("/platform/radius-clients")
    row = re.search(rf"<code>{re.escape(ADDRESS)}</code>.*?</tr>", after.text, re.S)
    assert row and owner.slug in row.group(0) and squatter.slug not in row.group(0)
