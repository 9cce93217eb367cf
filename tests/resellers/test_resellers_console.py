"""Reseller pages in the console (owners and admins), the reseller on the subscriber form,
and the links from a subscriber's page to its statement, services, tickets and M-Pesa."""

from __future__ import annotations

import re

from kiunga.platform.models import StaffRole


async def test_admin_adds_and_changes_resellers(signed_in, csrf_token_in):
    admin = await signed_in(StaffRole.ADMIN)
    empty = await admin.get("/resellers")
    assert empty.status_code == 200 and "No resellers." in empty.text
    form = await admin.get("/resellers/new")
    token = csrf_token_in(form.text)
    bad = await admin.post(
        "/resellers", data={"name": "Agent", "phone": "12", "_csrf_token": token}
    )
    assert bad.status_code == 400 and 'id="reseller-phone-error"' in bad.text
    assert 'value="Agent"' in bad.text and "Nothing was saved." in bad.text
    assert "No resellers." in (await admin.get("/resellers")).text
    added = await admin.post(
        "/resellers", data={"name": "Mama Mboga Net", "phone": "0712345678", "_csrf_token": token}
    )
    assert added.status_code == 303
    listing = await admin.get("/resellers")
    assert "Mama Mboga Net" in listing.text and "+254712345678" in listing.text
    edit_path = re.search(r'href="(/resellers/\d+/edit)"', listing.text).group(1)

    edit = await admin.get(edit_path)
    assert edit.status_code == 200 and 'value="Mama Mboga Net"' in edit.text
    blank = await admin.post(edit_path, data={"name": " ", "phone": "", "_csrf_token": token})
    assert blank.status_code == 400 and 'id="reseller-name-error"' in blank.text
    saved = await admin.post(
        edit_path, data={"name": "Mboga Net", "phone": "", "_csrf_token": token}
    )
    assert saved.status_code == 303
    listing = await admin.get("/resellers", params={"q": "mboga"})
    assert "Mboga Net" in listing.text and "+254712345678" not in listing.text
    assert "No resellers." in (await admin.get("/resellers", params={"q": "zzz"})).text
    deep = await admin.get("/resellers", params={"page": 10**17})
    assert deep.status_code == 200


async def test_only_owners_and_admins(signed_in):
    owner = await signed_in(StaffRole.OWNER)
    assert (await owner.get("/resellers")).status_code == 200
    for role in (StaffRole.SUPPORT, StaffRole.FINANCE, StaffRole.TECHNICIAN):
        client = await signed_in(role)
        assert (await client.get("/resellers")).status_code == 403, role
        assert (await client.get("/resellers/new")).status_code == 403, role


async def test_subscriber_form_assigns_a_reseller_and_the_page_links_onwards(
    signed_in, csrf_token_in
):
    admin = await signed_in(StaffRole.ADMIN)
    token = csrf_token_in((await admin.get("/resellers/new")).text)
    await admin.post("/resellers", data={"name": "Agent A", "_csrf_token": token})
    await admin.post("/resellers", data={"name": "Agent B", "_csrf_token": token})
    form = await admin.get("/subscribers/new")
    choices = dict(
        (name, value)
        for value, name in re.findall(r'<option value="(\d+)" >(Agent [AB])</option>', form.text)
    )
    assert set(choices) == {"Agent A", "Agent B"}, form.text

    bad = await admin.post(
        "/subscribers", data={"name": "Halima", "reseller_id": "abc", "_csrf_token": token}
    )
    assert bad.status_code == 400 and 'id="subscriber-reseller_id-error"' in bad.text
    added = await admin.post(
        "/subscribers",
        data={"name": "Halima Abdi", "reseller_id": choices["Agent A"], "_csrf_token": token},
    )
    assert added.status_code == 303, added.text
    detail_path = added.headers["location"]
    subscriber_id = detail_path.rsplit("/", 1)[1]
    detail = await admin.get(detail_path)
    assert "<dd>Agent A</dd>" in detail.text
    for link in (
        f'href="/subscribers/{subscriber_id}/statement"',
        f'href="/services?subscriber_id={subscriber_id}"',
        f'href="/tickets?subscriber_id={subscriber_id}"',
        f'href="/mpesa/requests/new?subscriber_id={subscriber_id}">Request M-Pesa payment',
    ):
        assert link in detail.text, link
    for path in (
        f"/subscribers/{subscriber_id}/statement",
        f"/services?subscriber_id={subscriber_id}",
        f"/tickets?subscriber_id={subscriber_id}",
    ):
        assert (await admin.get(path)).status_code == 200, path

    by_reseller = await admin.get("/subscribers", params={"reseller_id": choices["Agent A"]})
    assert "Halima Abdi" in by_reseller.text and "1 subscriber" in by_reseller.text
    other = await admin.get("/subscribers", params={"reseller_id": choices["Agent B"]})
    assert "Halima Abdi" not in other.text

    edit = await admin.get(f"{detail_path}/edit")
    assert f'<option value="{choices["Agent A"]}" selected>' in edit.text
    account = re.search(r'name="account_number" value="([^"]+)"', edit.text).group(1)
    fields = {"name": "Halima Abdi", "account_number": account, "_csrf_token": token}
    moved = await admin.post(
        f"{detail_path}/edit", data={**fields, "reseller_id": choices["Agent B"]}
    )
    assert moved.status_code == 303
    assert "<dd>Agent B</dd>" in (await admin.get(detail_path)).text
    released = await admin.post(f"{detail_path}/edit", data={**fields, "reseller_id": ""})
    assert released.status_code == 303
    assert "<dt>Reseller</dt><dd>—</dd>" in (await admin.get(detail_path)).text

    # A technician sees no money links: they would only be refused.
    technician = await signed_in(StaffRole.TECHNICIAN)
    seen = await technician.get(detail_path)
    assert "/statement" not in seen.text and "Request M-Pesa payment" not in seen.text
    assert f'href="/tickets?subscriber_id={subscriber_id}"' in seen.text
