"""Staff sessions: who a staff member is at a tenant (or the platform), and what a console
session cookie holds (the password check itself is in signin.py).

The cookie holds ids only (staff, tenant, when signed in, the account's session
generation); the role is looked up again (through a short cache) on each request, so a
removed membership ends access quickly. Signing out, a password change and disabling the
account raise the generation, which ends every cookie issued before, copies included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio
from kiunga.platform.auth.passwords import hash_password
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.auth.scopes import scope_table
from kiunga.platform.models import StaffAccount, StaffRole, TenantMembership
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

SESSION_STAFF = "staff_id"
SESSION_TENANT = "tenant_id"
SESSION_SIGNED_IN_AT = "signed_in_at"
SESSION_GENERATION = "generation"
# The cookie's own expiry slides with use (12 hours idle); this bounds a session however
# busy it is, so a copied cookie does not live for ever.
MAX_SESSION_AGE_SECONDS = 7 * 24 * 3600


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """What a session cookie names: who, where, and which generation of their sessions."""

    staff_id: int
    tenant_id: int | None
    generation: int


async def load_staff_principal(
    session: AsyncSession, staff_id: int, tenant_id: int | None, generation: int | None = None
) -> StaffPrincipal | None:
    """The principal for a staff member at a tenant, or on the platform when tenant_id is
    None (platform admins only). None when the account cannot work there, or when
    `generation` (a cookie's) is not the account's current one."""
    staff = await session.get(StaffAccount, staff_id)
    if staff is None or not staff.is_active:
        return None
    if generation is not None and generation != staff.session_generation:
        return None
    if tenant_id is None:
        if not staff.is_platform_admin:
            return None
        return _principal(staff, None, None, scope_table().platform, None, staff.session_generation)
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
    return _principal(
        staff, tenant_id, role, scope_table().roles[role], reseller_id, staff.session_generation
    )


def _principal(
    staff: StaffAccount, tenant_id, role, scopes, reseller_id, generation
) -> StaffPrincipal:
    return StaffPrincipal(
        staff_id=staff.id,
        email=staff.email,
        name=staff.name,
        tenant_id=tenant_id,
        role=role,
        is_platform_admin=staff.is_platform_admin,
        scopes=frozenset(scopes),
        reseller_id=reseller_id,
        session_generation=generation,
    )


def session_data(principal: StaffPrincipal) -> dict[str, int | None]:
    return {
        SESSION_STAFF: principal.staff_id,
        SESSION_TENANT: principal.tenant_id,
        SESSION_SIGNED_IN_AT: int(time.time()),
        SESSION_GENERATION: principal.session_generation,
    }


def session_identity(data: dict | None, now: float | None = None) -> SessionIdentity | None:
    """Who a session cookie's content names, if it has a current one."""
    if not data:
        return None
    staff_id = data.get(SESSION_STAFF)
    tenant_id = data.get(SESSION_TENANT)
    signed_in_at = data.get(SESSION_SIGNED_IN_AT)
    generation = data.get(SESSION_GENERATION)
    if not isinstance(staff_id, int) or not (tenant_id is None or isinstance(tenant_id, int)):
        return None
    if not isinstance(signed_in_at, int) or not isinstance(generation, int):
        return None
    if (now if now is not None else time.time()) - signed_in_at > MAX_SESSION_AGE_SECONDS:
        return None
    return SessionIdentity(staff_id, tenant_id, generation)


async def end_sessions(session: AsyncSession, staff_id: int) -> None:
    """End every console session of the account, on every device (in the caller's
    transaction). Caches of other processes let a session live at most their TTL longer."""
    await session.execute(
        update(StaffAccount)
        .where(StaffAccount.id == staff_id)
        .values(session_generation=StaffAccount.session_generation + 1)
    )


async def set_password(session: AsyncSession, staff_id: int, password: str) -> None:
    """A new password; whoever held a session with the old one is signed out."""
    hashed = await anyio.to_thread.run_sync(hash_password, password)
    await session.execute(
        update(StaffAccount).where(StaffAccount.id == staff_id).values(password_hash=hashed)
    )
    await end_sessions(session, staff_id)


async def disable_account(session: AsyncSession, staff_id: int) -> None:
    """The account can no longer sign in, and its sessions end (enabling it again does not
    bring them back)."""
    await session.execute(
        update(StaffAccount).where(StaffAccount.id == staff_id).values(is_active=False)
    )
    await end_sessions(session, staff_id)
