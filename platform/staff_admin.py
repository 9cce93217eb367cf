"""Platform administrators: the people who run Kiunga itself (create and disable ISPs)."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.passwords import MIN_PASSWORD_LENGTH, generate_password, hash_password
from kiunga.platform.models import StaffAccount
from kiunga.platform.tenant_admin import TenantError, normalise_email
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class PlatformAdmin:
    email: str
    created: bool
    # Set only when a new account got a generated password, to be shown once.
    password: str | None


def ensure_platform_admin(
    engine: Engine, email: str, *, password: str | None = None, name: str = ""
) -> PlatformAdmin:
    """Create a platform admin, or grant the role to an existing account (whose password
    is left as it is: the command must not be a way to take over someone's account)."""
    email = normalise_email(email, field="email")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise TenantError("password", f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    with Session(engine) as session, session.begin():
        account = session.scalar(
            select(StaffAccount).where(StaffAccount.email == email).with_for_update()
        )
        if account is not None:
            account.is_platform_admin = True
            return PlatformAdmin(email=email, created=False, password=None)
        generated = generate_password() if password is None else None
        session.add(
            StaffAccount(
                email=email,
                name=name.strip(),
                password_hash=hash_password(password or generated),
                is_platform_admin=True,
            )
        )
    return PlatformAdmin(email=email, created=True, password=generated)


def list_platform_admins(engine: Engine) -> list[StaffAccount]:
    with Session(engine) as session:
        query = select(StaffAccount).where(StaffAccount.is_platform_admin).order_by("email")
        return list(session.scalars(query))
