"""The console's voucher pages against the real app: making a batch through the form, the
batch page (status filter, mark sold, revoke, CSV), roles, and an agent signed in who sees
only their own batches; an owner giving an agent a login."""

from __future__ import annotations

import csv
import io
import re

from kiunga.platform.models import StaffRole
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.vouchers import batches
from kiunga.tenants.vouchers.batches import BatchSpec
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch
from sqlalchemy import select, update

CODE = re.compile(r"<code>([0-9A-Z]+)</code>")


async def make_batch(unit_of_work, package_id, reseller_id=None, count=6, commission_bp=0):
    async with unit_of_work() as session:
        spec = BatchSpec(
            package_id=package_id,
            count=count,
            reseller_id=reseller_id,
            commission_bp=commission_bp,
        )
        return (await batches.create_batch(session, spec)).id


async def test_owner_makes_a_batch_through_the_form(
    signed_in, csrf_token_in, add_package, add_reseller, unit_of_work
):
    package_id = await add_package(price=2_000)
    agent = await add_reseller("Mama Njeri")
    owner = await signed_in(StaffRole.OWNER)
    form = await owner.get("/vouchers/new")
    assert form.status_code == 200 and "Mama Njeri" in form.text
    token = csrf_token_in(form.text)
    fields = {
        "package_id": str(package_id),
        "count": "40",
        "price": "25.50",
        "code_length": "7",
        "prefix": "njr",
        "unused_expires_on": "2099-12-31",
        "reseller_id": str(agent),
        "commission_percent": "12.5",
        "mac_binding": "on",
        "_csrf_token": token,
    }
    bad = await owner.post("/vouchers", data={**fields, "alphabet": "ABCDEFGHI0"})
    assert bad.status_code == 400 and 'id="batch-alphabet-error"' in bad.text
    assert "No batch was made." in bad.text and 'value="njr"' in bad.text
    bad = await owner.post("/vouchers", data={**fields, "commission_percent": "12.345"})
    assert bad.status_code == 400 and 'id="batch-commission_percent-error"' in bad.text

    made = await owner.post("/vouchers", data=fields)
    assert made.status_code == 303
    batch_path = made.headers["location"]
    async with unit_of_work() as session:
        batch = await session.scalar(select(VoucherBatch))
    assert batch_path == f"/vouchers/batches/{batch.id}"
    assert (batch.count, batch.price, batch.commission_bp, batch.prefix) == (
        40,
        2_550,
        1_250,
        "NJR",
    )
    assert batch.mac_binding and batch.unused_expires_at.year == 2099

    listing = await owner.get("/vouchers")
    assert batch_path in listing.text and "Mama Njeri (12.5 %)" in listing.text
    page = await owner.get(batch_path)
    assert page.status_code == 200
    assert f'href="/vouchers/batches/{batch.id}/sheet"' in page.text
    assert f'href="/vouchers/batches/{batch.id}/export.csv"' in page.text
    assert len(CODE.findall(page.text)) == 40


async def test_the_batch_page_sells_revokes_and_exports(
    signed_in, csrf_token_in, add_package, unit_of_work
):
    batch_id = await make_batch(unit_of_work, await add_package(price=2_000))
    owner = await signed_in(StaffRole.OWNER)
    page = await owner.get(f"/vouchers/batches/{batch_id}")
    token = csrf_token_in(page.text)
    codes = CODE.findall(page.text)
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(Voucher.id).where(Voucher.batch_id == batch_id).order_by(Voucher.id)
            )
        )

    sold = await owner.post(
        f"/vouchers/batches/{batch_id}/sell",
        data={
            "voucher_ids": [str(ids[0]), str(ids[1])],
            "codes": codes[2].lower(),
            "_csrf_token": token,
        },
    )
    assert sold.status_code == 200 and "3 vouchers sold for 60.00 KES" in sold.text
    unknown = await owner.post(
        f"/vouchers/batches/{batch_id}/sell", data={"codes": "ZZZZZZZZ", "_csrf_token": token}
    )
    assert unknown.status_code == 404 and "no voucher ZZZZZZZZ" in unknown.text

    filtered = await owner.get(f"/vouchers/batches/{batch_id}", params={"status": "sold"})
    assert sorted(CODE.findall(filtered.text)) == sorted(codes[:3])

    revoked = await owner.post(f"/vouchers/{ids[0]}/revoke", data={"_csrf_token": token})
    assert revoked.status_code == 303
    again = await owner.post(f"/vouchers/{ids[0]}/revoke", data={"_csrf_token": token})
    assert again.status_code == 409 and "is revoked" in again.text
    whole = await owner.post(
        f"/vouchers/batches/{batch_id}/revoke", data={"reason": "lost", "_csrf_token": token}
    )
    assert whole.status_code == 303
    after = await owner.get(f"/vouchers/batches/{batch_id}", params={"status": "revoked"})
    assert len(CODE.findall(after.text)) == 6

    exported = await owner.get(f"/vouchers/batches/{batch_id}/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["code"] for r in rows) == sorted(codes)
    assert sum(1 for r in rows if r["sold_at"]) == 3

    agents = await owner.get("/vouchers/agents")
    assert agents.status_code == 200 and codes[2] in agents.text
    dashboard = await owner.get("/")
    assert re.search(r'figure">3</span><span class="label">Vouchers sold today', dashboard.text)


async def test_roles_on_the_voucher_pages(signed_in, csrf_token_in, add_package, unit_of_work):
    batch_id = await make_batch(unit_of_work, await add_package())
    finance = await signed_in(StaffRole.FINANCE)
    listing = await finance.get("/vouchers")
    assert listing.status_code == 200 and "/vouchers/new" not in listing.text
    assert (await finance.get("/vouchers/new")).status_code == 403
    page = await finance.get(f"/vouchers/batches/{batch_id}")
    assert page.status_code == 200 and "Mark sold" not in page.text and "Revoke" not in page.text
    token = csrf_token_in(page.text)
    refused = await finance.post(
        f"/vouchers/batches/{batch_id}/sell", data={"codes": "X", "_csrf_token": token}
    )
    assert refused.status_code == 403

    support = await signed_in(StaffRole.SUPPORT)
    page = await support.get(f"/vouchers/batches/{batch_id}")
    assert "Mark sold" in page.text and "Revoke batch" not in page.text
    technician = await signed_in(StaffRole.TECHNICIAN)
    assert (await technician.get("/vouchers")).status_code == 403


async def test_an_agent_signed_in_sees_only_their_own_batches(
    tenant, signed_in, make_agent, csrf_token_in, add_package, add_reseller, unit_of_work
):
    package_id = await add_package(price=2_000)
    mine, theirs = await add_reseller("Mine"), await add_reseller("Theirs")
    my_batch = await make_batch(unit_of_work, package_id, mine, commission_bp=1_000)
    their_batch = await make_batch(unit_of_work, package_id, theirs, commission_bp=1_000)
    unassigned = await make_batch(unit_of_work, package_id)
    agent = await signed_in(email=make_agent(tenant.id, mine))

    home = await agent.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/vouchers"
    listing = await agent.get("/vouchers")
    assert listing.status_code == 200
    assert f"/vouchers/batches/{my_batch}" in listing.text
    assert f"/vouchers/batches/{their_batch}" not in listing.text
    assert f"/vouchers/batches/{unassigned}" not in listing.text
    assert 'href="/subscribers"' not in listing.text and "/vouchers/new" not in listing.text
    for batch_id in (their_batch, unassigned):
        assert (await agent.get(f"/vouchers/batches/{batch_id}")).status_code == 404
        assert (await agent.get(f"/vouchers/batches/{batch_id}/export.csv")).status_code == 404
    assert (await agent.get("/subscribers")).status_code == 403
    assert (await agent.get("/vouchers/new")).status_code == 403

    page = await agent.get(f"/vouchers/batches/{my_batch}")
    token = csrf_token_in(page.text)
    assert "Revoke batch" not in page.text
    my_codes = CODE.findall(page.text)
    their_page = await (await signed_in(StaffRole.OWNER)).get(f"/vouchers/batches/{their_batch}")
    their_codes = CODE.findall(their_page.text)
    stolen = await agent.post(
        f"/vouchers/batches/{my_batch}/sell", data={"codes": their_codes[0], "_csrf_token": token}
    )
    assert stolen.status_code == 404
    sold = await agent.post(
        f"/vouchers/batches/{my_batch}/sell", data={"codes": my_codes[0], "_csrf_token": token}
    )
    assert sold.status_code == 200 and "1 voucher sold for 20.00 KES" in sold.text
    refused = await agent.post(f"/vouchers/batches/{my_batch}/revoke", data={"_csrf_token": token})
    assert refused.status_code == 403

    summary = await agent.get("/vouchers/agents")
    assert "Mine" in summary.text and "Theirs" not in summary.text
    assert "KES 2.00" in summary.text and "Give an agent a console login" not in summary.text


async def test_an_owner_gives_an_agent_a_login(
    signed_in, csrf_token_in, login, client_for, tenant, add_package, add_reseller, unit_of_work
):
    agent_record = await add_reseller("Baraka Shop")
    other = await add_reseller("Elsewhere")
    package_id = await add_package()
    own_batch = await make_batch(unit_of_work, package_id, agent_record)
    other_batch = await make_batch(unit_of_work, package_id, other)
    owner = await signed_in(StaffRole.OWNER)
    page = await owner.get("/vouchers/agents")
    token = csrf_token_in(page.text)
    bad = await owner.post(
        "/vouchers/agents/logins",
        data={"email": "baraka@shop.example", "reseller_id": "", "_csrf_token": token},
    )
    assert bad.status_code == 400 and 'id="agent-reseller-error"' in bad.text
    given = await owner.post(
        "/vouchers/agents/logins",
        data={
            "email": "Baraka@Shop.example",
            "name": "Baraka",
            "reseller_id": str(agent_record),
            "_csrf_token": token,
        },
    )
    assert given.status_code == 200, given.text
    link = re.search(r'<code class="invitation-link">([^<]+)</code>', given.text).group(1)
    agent = client_for(tenant.host)
    invitation = await agent.get(link)
    assert invitation.status_code == 200
    password = "baraka's own password"
    accepted = await agent.post(
        link, data={"password": password, "_csrf_token": csrf_token_in(invitation.text)}
    )
    assert accepted.status_code == 303, accepted.text
    assert (await agent.get(link)).status_code == 404  # used once

    assert (await login(agent, "baraka@shop.example", password)).status_code == 303
    assert (await agent.get(f"/vouchers/batches/{own_batch}")).status_code == 200
    assert (await agent.get(f"/vouchers/batches/{other_batch}")).status_code == 404

    support = await signed_in(StaffRole.SUPPORT)
    support_page = await support.get("/vouchers/agents")
    assert "Give an agent a console login" not in support_page.text
    refused = await support.post(
        "/vouchers/agents/logins",
        data={
            "email": "x@y.example",
            "reseller_id": str(other),
            "_csrf_token": csrf_token_in(support_page.text),
        },
    )
    assert refused.status_code == 403


async def test_the_batch_page_hands_the_batch_to_an_agent(
    signed_in, csrf_token_in, add_package, add_reseller, unit_of_work
):
    agent = await add_reseller("Kiosk Kamau")
    batch_id = await make_batch(unit_of_work, await add_package())
    owner = await signed_in(StaffRole.OWNER)
    page = await owner.get(f"/vouchers/batches/{batch_id}")
    token = csrf_token_in(page.text)
    assert "Kiosk Kamau" in page.text
    path = f"/vouchers/batches/{batch_id}/assign"
    bad = await owner.post(
        path,
        data={"reseller_id": str(agent), "commission_percent": "ten", "_csrf_token": token},
    )
    assert bad.status_code == 400 and "commission is a percentage" in bad.text
    done = await owner.post(
        path,
        data={"reseller_id": str(agent), "commission_percent": "7.5%", "_csrf_token": token},
    )
    assert done.status_code == 303
    async with unit_of_work() as session:
        batch = await session.get(VoucherBatch, batch_id)
        assert (batch.reseller_id, batch.commission_bp) == (agent, 750)
    page = await owner.get(f"/vouchers/batches/{batch_id}")
    assert "Agent: Kiosk Kamau, commission 7.5 %" in page.text


async def test_an_agent_tied_to_no_reseller_record_cannot_sign_in(
    tenant, make_staff, login, client_for
):
    # Without a reseller record nothing would confine them: refused like a wrong password.
    client = client_for(tenant.host)
    answer = await login(client, make_staff(tenant.id, role=StaffRole.AGENT))
    assert answer.status_code == 401
    assert (await client.get("/vouchers")).status_code == 303


async def test_times_are_shown_in_the_isps_zone(signed_in, add_package, unit_of_work):
    """Stored in UTC, shown as the ISP's people read them (Nairobi: UTC+3)."""
    from datetime import UTC, datetime

    from kiunga.tenants.vouchers import sales

    batch_id = await make_batch(unit_of_work, await add_package(), count=1)
    async with unit_of_work() as session:
        [voucher_id] = await session.scalars(select(Voucher.id).where(Voucher.batch_id == batch_id))
        sold_at = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
        await sales.sell_vouchers(session, voucher_ids=[voucher_id], actor_label="t", now=sold_at)
    owner = await signed_in(StaffRole.OWNER)
    page = await owner.get(f"/vouchers/batches/{batch_id}")
    assert page.status_code == 200
    assert "2026-03-02 01:30" in page.text and "2026-03-01 22:30" not in page.text


async def test_a_batch_price_is_typed_in_the_packages_currency(
    signed_in, csrf_token_in, add_package, unit_of_work
):
    # A package sold in Ugandan shillings (no minor unit): 450 typed is 450 stored.
    package_id = await add_package(price=500)
    async with unit_of_work() as session:
        await session.execute(
            update(Package).where(Package.id == package_id).values(currency="UGX")
        )
    owner = await signed_in(StaffRole.OWNER)
    form = await owner.get("/vouchers/new")
    assert "UGX 500)" in form.text
    fields = {
        "package_id": str(package_id),
        "count": "2",
        "_csrf_token": csrf_token_in(form.text),
    }
    cents = await owner.post("/vouchers", data={**fields, "price": "450.50"})
    assert cents.status_code == 400 and "more decimal places than UGX allows" in cents.text
    made = await owner.post("/vouchers", data={**fields, "price": "450"})
    assert made.status_code == 303
    async with unit_of_work() as session:
        batch = await session.scalar(select(VoucherBatch))
    assert (batch.price, batch.currency) == (450, "UGX")
    assert "UGX 450 each" in (await owner.get(made.headers["location"])).text
    assert "UGX 450<" in (await owner.get("/vouchers")).text
