"""Invitations to work at an ISP: a link, not an account made on the spot.

Inviting looks nothing up, so the person inviting learns nothing about which emails have
accounts, and no existing account (another ISP's owner, a platform admin) is tied to an
ISP without its holder's word. Whoever opens the link sets a password for a new account,
or, when an account with that email exists, confirms with that account's password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import anyio
from kiunga.platform.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    verify_password,
)
from kiunga.platform.auth.sessions import normalise_email
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import DomainError
from kiunga.platform.models import StaffAccount, StaffInvitation, StaffRole, TenantMembership
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

INVITATION_LIFETIME = timedelta(days=7)
TOKEN_BYTES = 32
INVITATION_PATH = "/invitations/"


class InvitationError(DomainError, ValueError):
    """An invitation that cannot be accepted as given; `field` names why."""


@dataclass(frozen=True, slots=True)
class Invitation:
    """An open invitation, as the page that accepts it shows it."""

    id: int
    tenant_id: int
    email: str
    name: str
    role: StaffRole
    reseller_id: int | None
    # True when an account with this email exists: the page asks for its password.
    account_exists: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_path(token: str) -> str:
    return f"{INVITATION_PATH}{token}"


async def invite_staff(
    session: AsyncSession,
    *,
    tenant_id: int,
    email: str,
    role: StaffRole,
    name: str = "",
    reseller_id: int | None = None,
    invited_by_staff_id: int | None = None,
) -> str:
    """Record an invitation (in the caller's transaction); returns the link's token."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or any(char.isspace() for char in email):
        raise InvitationError("email", "give the person's email address")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        StaffInvitation(
            token_hash=_token_hash(token),
            tenant_id=tenant_id,
            email=email,
            name=" ".join((name or "").split())[:200],
            role=role,
            reseller_id=reseller_id,
            invited_by_staff_id=invited_by_staff_id,
            expires_at=utcnow() + INVITATION_LIFETIME,
        )
    )
    await session.flush()
    return token


async def _open_row(session: AsyncSession, token: str, tenant_id: int) -> StaffInvitation | None:
    if not token or len(token) > 200:
        return None
    return await session.scalar(
        select(StaffInvitation).where(
            StaffInvitation.token_hash == _token_hash(token),
            StaffInvitation.tenant_id == tenant_id,
            StaffInvitation.accepted_at.is_(None),
            StaffInvitation.expires_at > utcnow(),
        )
    )


async def find_invitation(session: AsyncSession, token: str, tenant_id: int) -> Invitation | None:
    """The open invitation behind a link on this ISP's host, else None (unknown, used,
    expired or another ISP's alike)."""
    row = await _open_row(session, token, tenant_id)
    if row is None:
        return None
    account_id = await session.scalar(
        select(StaffAccount.id).where(StaffAccount.email == row.email)
    )
    return Invitation(
        id=row.id,
        tenant_id=row.tenant_id,
        email=row.email,
        name=row.name,
        role=row.role,
        reseller_id=row.reseller_id,
        account_exists=account_id is not None,
    )


async def accept_invitation(
    session: AsyncSession, token: str, tenant_id: int, *, password: str
) -> StaffAccount:
    """Join the ISP in the invited role (in the caller's transaction). A new account gets
    `password`; an existing one must be confirmed with its own. Raises InvitationError."""
    row = await _open_row(session, token, tenant_id)
    if row is None:
        raise InvitationError("token", "this invitation is no longer open")
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise InvitationError("password", "give a password")
    account = await session.scalar(
        select(StaffAccount).where(StaffAccount.email == row.email).with_for_update()
    )
    if account is None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvitationError(
                "password", f"choose a password of at least {MIN_PASSWORD_LENGTH} characters"
            )
        hashed = await anyio.to_thread.run_sync(hash_password, password)
        account = StaffAccount(email=row.email, name=row.name, password_hash=hashed)
        session.add(account)
        await session.flush()
    else:
        ok = await anyio.to_thread.run_sync(verify_password, account.password_hash, password)
        if not ok or not account.is_active:
            raise InvitationError("password", "that is not this account's password")
    member = await session.scalar(
        select(TenantMembership).where(
            TenantMembership.staff_id == account.id, TenantMembership.tenant_id == tenant_id
        )
    )
    if member is not None:
        raise InvitationError("email", "this account already works here")
    session.add(
        TenantMembership(
            staff_id=account.id, tenant_id=tenant_id, role=row.role, reseller_id=row.reseller_id
        )
    )
    # Used once: a second click (or a copy of the link) finds nothing.
    await session.execute(
        update(StaffInvitation).where(StaffInvitation.id == row.id).values(accepted_at=utcnow())
    )
    await session.flush()
    return account
