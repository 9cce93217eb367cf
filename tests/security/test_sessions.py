"""Signing out ends a session on the server: a copied cookie dies with it. A password change
and disabling the account do the same; the CSRF token changes at sign-in and sign-out."""

from __future__ import annotations

import pytest
from kiunga.platform.models import StaffAccount
from sqlalchemy import select

SESSION_COOKIE = "kiunga_session"
CSRF_COOKIE = "kiunga_csrf"


async def signed_in_twice(client_for, login, host: str, email: str):
    """A signed-in client, and a second client holding a copy of its session cookie."""
    original = client_for(host)
    answer = await login(original, email)
    assert answer.status_code == 303, answer.text
    copy = client_for(host, client_ip="198.51.100.7")
    copy.cookies.set(SESSION_COOKIE, original.cookies[SESSION_COOKIE], domain=host)
    assert (await copy.get("/")).status_code == 200
    return original, copy


async def test_a_copied_cookie_stops_working_when_its_owner_signs_out(
    client_for, make_tenant, login, csrf_token_in
):
    tenant = make_tenant("sess")
    original, copy = await signed_in_twice(client_for, login, tenant.host, tenant.owner_email)

    token = csrf_token_in((await original.get("/")).text)
    out = await original.post("/logout", data={"_csrf_token": token})
    assert out.status_code == 303

    after = await copy.get("/")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")
    api = await copy.get("/api/v1/sites")
    assert api.status_code == 401

    # Signing in again gives a working session, and the old copy stays dead.
    again = client_for(tenant.host)
    assert (await login(again, tenant.owner_email)).status_code == 303
    assert (await again.get("/")).status_code == 200
    assert (await copy.get("/")).status_code == 303


@pytest.mark.parametrize("end", ["password change", "disable"])
async def test_a_password_change_or_disabling_ends_every_session(
    end, app, client_for, make_tenant, make_staff, login
):
    from kiunga.platform.auth.sessions import disable_account, set_password

    tenant = make_tenant("sess")
    email = make_staff(tenant.id)
    _, copy = await signed_in_twice(client_for, login, tenant.host, email)

    async with app.services.database.platform_session() as session:
        staff_id = await session.scalar(select(StaffAccount.id).where(StaffAccount.email == email))
        if end == "disable":
            await disable_account(session, staff_id)
        else:
            await set_password(session, staff_id, "another horse battery staple")
        await session.commit()
    app.services.staff_sessions.invalidate()

    assert (await copy.get("/")).status_code == 303


async def test_the_csrf_token_changes_at_sign_in_and_sign_out(
    client_for, make_tenant, login, csrf_token_in
):
    tenant = make_tenant("sess")
    client = client_for(tenant.host)
    await client.get("/login")
    before = client.cookies[CSRF_COOKIE]

    assert (await login(client, tenant.owner_email)).status_code == 303
    signed_in_page = await client.get("/")
    during = client.cookies[CSRF_COOKIE]
    assert during != before

    out = await client.post("/logout", data={"_csrf_token": csrf_token_in(signed_in_page.text)})
    assert out.status_code == 303
    await client.get("/login")
    assert client.cookies[CSRF_COOKIE] not in (before, during)
