"""Console sign-in, sign-out and CSRF, per tenant host and on the platform's own host."""

from kiunga.platform.models import StaffRole
from kiunga.platform.web.plugin import CSRF_COOKIE, SESSION_COOKIE

OWNER_PASSWORD = "correct horse battery"  # what make_tenant gives every owner


async def test_pages_require_sign_in(client_for, make_tenant, base_host):
    tenant = make_tenant()
    for host, path in ((tenant.host, "/"), (tenant.host, "/sites"), (base_host, "/platform")):
        response = await client_for(host).get(path)
        assert response.status_code == 303, (host, path)
        assert response.headers["location"] == f"/login?next={path}"
    htmx = await client_for(tenant.host).get("/sites", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"] == "/login?next=/sites"


async def test_owner_signs_in_sees_the_dashboard_and_signs_out(
    client_for, make_tenant, login, csrf_token_in
):
    tenant = make_tenant()
    client = client_for(tenant.host)
    signed_in = await login(client, tenant.owner_email, OWNER_PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    # The session cookie, beside the CSRF cookie's removal (a new token after sign-in).
    (cookie,) = [
        header
        for header in signed_in.headers.get_list("set-cookie")
        if header.startswith(f"{SESSION_COOKIE}=")
    ]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("samesite", "SameSite")
    assert "Domain=" not in cookie  # host-only: never sent to another ISP's host

    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert tenant.name in dashboard.text
    assert tenant.owner_email in dashboard.text and "owner" in dashboard.text
    assert "Sites" in dashboard.text

    # Signing out is a POST, and a POST needs the CSRF token.
    refused = await client.post("/logout")
    assert refused.status_code == 403
    assert (await client.get("/")).status_code == 200
    out = await client.post("/logout", data={"_csrf_token": csrf_token_in(dashboard.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/")).status_code == 303


async def test_sign_in_without_the_csrf_token_is_refused(client_for, make_tenant):
    tenant = make_tenant()
    client = client_for(tenant.host)
    await client.get("/login")  # has the CSRF cookie, but the form will not carry the token
    assert client.cookies.get(CSRF_COOKIE)
    response = await client.post(
        "/login", data={"email": tenant.owner_email, "password": OWNER_PASSWORD}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    forged = await client.post(
        "/login",
        data={"email": tenant.owner_email, "password": OWNER_PASSWORD, "_csrf_token": "0" * 128},
    )
    assert forged.status_code == 403


async def test_failures_read_alike_whatever_went_wrong(client_for, make_tenant, login):
    tenant = make_tenant()
    client = client_for(tenant.host)
    wrong_password = await login(client, tenant.owner_email, "not the password")
    unknown_email = await login(client, "nobody@example.test", OWNER_PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert "Email or password is incorrect." in response.text
    assert (await client.get("/")).status_code == 303


async def test_staff_of_one_isp_cannot_sign_in_at_another(
    client_for, make_tenant, login, make_staff
):
    first, second = make_tenant(), make_tenant()
    technician = make_staff(first.id, StaffRole.TECHNICIAN)
    for email, password in ((first.owner_email, OWNER_PASSWORD), (technician, OWNER_PASSWORD)):
        response = await login(client_for(second.host), email, password)
        assert response.status_code == 401
        assert "Email or password is incorrect." in response.text
    assert (await login(client_for(first.host), technician)).status_code == 303


async def test_a_session_cookie_from_one_isp_is_worthless_at_another(
    client_for, make_tenant, login
):
    first, second = make_tenant(), make_tenant()
    a = client_for(first.host)
    await login(a, first.owner_email, OWNER_PASSWORD)
    stolen = a.cookies.get(SESSION_COOKIE)
    b = client_for(second.host)
    replayed = await b.get("/", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"})
    assert replayed.status_code == 303
    api = await b.get("/api/v1/sites", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"})
    assert api.status_code == 401
    # The platform surface ignores it too.
    platform = client_for("kiunga.test")
    platform_page = await platform.get(
        "/platform", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"}
    )
    assert platform_page.status_code == 303


async def test_a_console_session_uses_the_api_under_csrf_and_its_role(
    client_for, make_tenant, login, make_staff, csrf_token_in
):
    tenant = make_tenant()
    owner, support = client_for(tenant.host), client_for(tenant.host)
    await login(owner, tenant.owner_email, OWNER_PASSWORD)
    await login(support, make_staff(tenant.id, StaffRole.SUPPORT))
    assert (await support.get("/api/v1/sites")).status_code == 200

    # A cookie-authenticated write needs the CSRF token, unlike a Bearer-key write.
    forged = await owner.post("/api/v1/sites", json={"name": "Kasarani"})
    assert forged.status_code == 403
    assert forged.json()["detail"] == "CSRF token verification failed"
    token = csrf_token_in((await owner.get("/")).text)
    created = await owner.post(
        "/api/v1/sites", json={"name": "Kasarani"}, headers={"x-csrftoken": token}
    )
    assert created.status_code == 201

    # Support staff read sites; they do not change them.
    token = csrf_token_in((await support.get("/")).text)
    denied = await support.post("/api/v1/sites", json={"name": "X"}, headers={"x-csrftoken": token})
    assert denied.status_code == 403
    assert denied.json()["detail"] == "Missing scope: sites:write"


async def test_sites_page_adds_and_removes_sites_with_htmx(
    client_for, make_tenant, login, csrf_token_in
):
    tenant = make_tenant()
    client = client_for(tenant.host)
    await login(client, tenant.owner_email, OWNER_PASSWORD)
    page = await client.get("/sites")
    assert page.status_code == 200 and "No sites yet." in page.text
    token = csrf_token_in(page.text)

    missing_token = await client.post("/sites", data={"name": "Kasarani"})
    assert missing_token.status_code == 403

    added = await client.post(
        "/sites",
        data={"name": "Kasarani", "region": "Nairobi", "_csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert added.status_code == 201
    assert added.text.lstrip().startswith('<div id="sites">')  # the section, not the page
    assert "Kasarani" in added.text and "Nairobi" in added.text

    duplicate = await client.post(
        "/sites", data={"name": "Kasarani", "_csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert duplicate.status_code == 409
    assert 'class="field-error" id="site-name-error"' in duplicate.text

    # htmx sends the token as a header (hx-headers on <body>), not as a form field.
    header_only = await client.post(
        "/sites/1/delete", headers={"HX-Request": "true", "x-csrftoken": token}
    )
    assert header_only.status_code == 200 and "No sites yet." in header_only.text


async def test_repeated_failures_are_throttled(client_for, make_tenant, login):
    tenant = make_tenant()
    client = client_for(tenant.host, client_ip="198.51.100.9")
    for _ in range(10):
        assert (await login(client, tenant.owner_email, "wrong password")).status_code == 401
    throttled = await login(client, tenant.owner_email, OWNER_PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text


async def test_platform_admin_signs_in_on_the_base_domain_only(
    client_for, make_tenant, make_staff, login, base_host
):
    tenant = make_tenant()
    admin = make_staff(platform_admin=True)
    # Not on an ISP's host (an admin is not a member of it) ...
    assert (await login(client_for(tenant.host), admin)).status_code == 401
    # ... and an ISP's owner is not a platform admin.
    assert (
        await login(client_for(base_host), tenant.owner_email, OWNER_PASSWORD)
    ).status_code == 401
    platform = client_for(base_host)
    assert (await login(platform, admin)).status_code == 303
    home = await platform.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/platform"
    page = await platform.get("/platform")
    assert page.status_code == 200
    assert tenant.slug in page.text
