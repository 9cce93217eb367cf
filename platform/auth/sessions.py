"""Staff sessions: who a staff member is at a tenant (or the platform), and what a console
session cookie holds (the password check itself is in signin.py).

The cookie holds ids only (staff, tenant, when signed in); the role is looked up again
(through a short cache) on each request, so a removed membership ends access quickly.
"""

from __future__ import annotations

import time

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.auth.scopes import PLATFORM_SCOPES, ROLE_SCOPES
from kiunga.platform.models import StaffAccount, StaffRole, TenantMembership
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

SESSION_STAFF = "staff_id"
SESSION_TENANT = "tenant_id"
SESSION_SIGNED_IN_AT = "signed_in_at"
# The cookie's own expiry slides with use (12 hours idle); this bounds a session however
# busy it is, so a copied cookie does not live for ever.
MAX_SESSION_AGE_SECONDS = 7 * 24 * 3600


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


async def load_staff_principal(
    session: AsyncSession, staff_id: int, tenant_id: int | None
) -> StaffPrincipal | None:
    """The principal for a staff member at a tenant, or on the platform when tenant_id is
    None (platform admins only). None when the account cannot work there."""
    staff = await session.get(StaffAccount, staff_id)
    if staff is None or not staff.is_active:
        return None
    if tenant_id is None:
        if not staff.is_platform_admin:
            return None
        return _principal(staff, None, None, PLATFORM_SCOPES)
    membership = (
        await session.execute(
            select(TenantMembership.role, TenantMembership.reseller_id).where(
                TenantMembership.staff_id == staff_id, TenantMembership.tenant_id == tenant_id
            )
        )
    ).first()
    if membership is None:
        return None
    role, reseller_id = membership
    if role is StaffRole.AGENT and reseller_id is None:
        # An agent tied to no reseller record would see every agent's vouchers.
        return None
    return _principal(staff, tenant_id, role, ROLE_SCOPES[role], reseller_id)


def _principal(staff: StaffAccount, tenant_id, role, scopes, reseller_id=None) -> StaffPrincipal:
    return StaffPrincipal(
        staff_id=staff.id,
        email=staff.email,
        name=staff.name,
        tenant_id=tenant_id,
        role=role,
        is_platform_admin=staff.is_platform_admin,
        scopes=frozenset(scopes),
        reseller_id=reseller_id,
    )


def session_data(principal: StaffPrincipal) -> dict[str, int | None]:
    return {
        SESSION_STAFF: principal.staff_id,
        SESSION_TENANT: principal.tenant_id,
        SESSION_SIGNED_IN_AT: int(time.time()),
    }


def session_identity(data: dict | None, now: float | None = None) -> tuple[int, int | None] | None:
    """(staff_id, tenant_id) from a session cookie's content, if it has a current one."""
    if not data:
        return None
    staff_id = data.get(SESSION_STAFF)
    tenant_id = data.get(SESSION_TENANT)
    signed_in_at = data.get(SESSION_SIGNED_IN_AT)
    if not isinstance(staff_id, int) or not (tenant_id is None or isinstance(tenant_id, int)):
        return None
    if not isinstance(signed_in_at, int):
        return None
    if (now if now is not None else time.time()) - signed_in_at > MAX_SESSION_AGE_SECONDS:
        return None
    return staff_id, tenant_id
