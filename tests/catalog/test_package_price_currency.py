"""A package's price typed in the console is read in the ISP's own currency: a Ugandan ISP
typing 500 sells for UGX 500 (not 50,000), and cents it does not have are refused."""

from __future__ import annotations

from kiunga.platform.models import StaffRole, Tenant
from sqlalchemy import update

FORM = {
    "validity_count": "1", "validity_unit": "month", "billing_type": "prepaid",
    "service_type": "pppoe", "rate_limit": "2M/5M",
}  # fmt: skip


def _bill_in(engine, tenant_id: int, currency: str) -> None:
    with engine.begin() as connection:
        connection.execute(update(Tenant).where(Tenant.id == tenant_id).values(currency=currency))


async def test_a_ugx_isp_typing_500_sells_for_500(
    engine, make_tenant, make_staff, make_key, client_for, login, csrf_token_in
):
    tenant = make_tenant()
    _bill_in(engine, tenant.id, "UGX")
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    token = csrf_token_in((await admin.get("/packages")).text)

    added = await admin.post(
        "/packages", data={**FORM, "name": "Kampala 5", "price": "500", "_csrf_token": token}
    )
    assert added.status_code == 303
    cents = await admin.post(
        "/packages", data={**FORM, "name": "Kampala 6", "price": "500.50", "_csrf_token": token}
    )
    assert cents.status_code == 400 and "more decimal places than UGX allows" in cents.text

    listing = await admin.get("/packages")
    assert "UGX 500<" in listing.text and "Kampala 6" not in listing.text
    key = make_key(tenant.id, scopes=("packages:read",))
    packages = (
        await admin.get("/api/v1/packages", headers={"Authorization": f"Bearer {key}"})
    ).json()
    assert [(p["name"], p["price"], p["currency"]) for p in packages] == [("Kampala 5", 500, "UGX")]


async def test_a_kes_isp_keeps_its_cents(
    make_tenant, make_staff, make_key, client_for, login, csrf_token_in
):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    token = csrf_token_in((await admin.get("/packages")).text)
    added = await admin.post(
        "/packages", data={**FORM, "name": "Home 5", "price": "1,500.50", "_csrf_token": token}
    )
    assert added.status_code == 303
    assert "KES 1,500.50" in (await admin.get("/packages")).text
    key = make_key(tenant.id, scopes=("packages:read",))
    packages = (
        await admin.get("/api/v1/packages", headers={"Authorization": f"Bearer {key}"})
    ).json()
    assert [p["price"] for p in packages] == [150_050]
