"""Every voucher page reads the signed-in staff member's fence from one place: an agent is
confined to their reseller record on the batch pages and the printed sheets alike, and a
former agent made an admin (their membership still naming the record) is confined on none."""

from __future__ import annotations

from kiunga.platform.models import StaffRole, TenantMembership
from kiunga.tenants.vouchers.batches import BatchSpec, create_batch
from sqlalchemy import update


async def _batch(unit_of_work, package_id, reseller_id=None) -> int:
    async with unit_of_work() as session:
        spec = BatchSpec(package_id=package_id, count=2, reseller_id=reseller_id)
        return (await create_batch(session, spec)).id


async def test_an_agent_made_admin_reaches_every_batch(
    app, engine, tenant, add_package, add_reseller, unit_of_work, make_agent, signed_in
):
    package_id = await add_package()
    mine, theirs = await add_reseller("Mama Mboga"), await add_reseller("Baba Njoro")
    own = await _batch(unit_of_work, package_id, mine)
    others = [
        await _batch(unit_of_work, package_id, theirs),
        await _batch(unit_of_work, package_id),
    ]
    email = make_agent(tenant.id, mine)

    agent = await signed_in(email=email)
    assert (await agent.get(f"/vouchers/batches/{own}/sheet")).status_code == 200
    for batch in others:
        assert (await agent.get(f"/vouchers/batches/{batch}")).status_code == 404
        assert (await agent.get(f"/vouchers/batches/{batch}/sheet")).status_code == 404

    with engine.begin() as connection:
        connection.execute(
            update(TenantMembership)
            .where(TenantMembership.tenant_id == tenant.id)
            .where(TenantMembership.reseller_id == mine)
            .values(role=StaffRole.ADMIN)
        )
    app.services.staff_sessions.invalidate()  # as changing a role through the console does
    admin = await signed_in(email=email)
    for batch in (own, *others):
        assert (await admin.get(f"/vouchers/batches/{batch}")).status_code == 200
        assert (await admin.get(f"/vouchers/batches/{batch}/sheet")).status_code == 200
    listing = await admin.get("/vouchers")
    assert all(f"/vouchers/batches/{batch}" in listing.text for batch in (own, *others))
    assert (await admin.get("/", follow_redirects=False)).status_code == 200
