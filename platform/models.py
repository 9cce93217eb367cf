"""Tables of the shared `platform` schema: tenants, their hosts, staff, roles and API keys."""

from __future__ import annotations

import enum
from datetime import datetime

from kiunga.platform.db.base import PlatformBase
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class StaffRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    FINANCE = "finance"
    SUPPORT = "support"
    TECHNICIAN = "technician"
    # A voucher agent: sees and sells only the vouchers of batches assigned to their
    # reseller record (TenantMembership.reseller_id).
    AGENT = "agent"


class DomainKind(enum.StrEnum):
    SUBDOMAIN = "subdomain"
    CUSTOM = "custom"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as text with a check constraint: adding a value later is a plain migration.
    return Enum(cls, name=name, native_enum=False, length=20, values_callable=_values)


def _values(cls: type[enum.Enum]) -> list[str]:
    return [member.value for member in cls]


class Tenant(PlatformBase):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    slug: Mapped[str] = mapped_column(String(31), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    schema_name: Mapped[str] = mapped_column("schema", String(40), unique=True)
    status: Mapped[TenantStatus] = mapped_column(
        _enum(TenantStatus, "tenant_status"), default=TenantStatus.ACTIVE
    )
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Nairobi")
    currency: Mapped[str] = mapped_column(String(3), default="KES")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    disabled_at: Mapped[datetime | None]

    domains: Mapped[list[TenantDomain]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", lazy="selectin"
    )


class TenantDomain(PlatformBase):
    __tablename__ = "tenant_domains"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(253), unique=True)
    kind: Mapped[DomainKind] = mapped_column(_enum(DomainKind, "domain_kind"))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    tenant: Mapped[Tenant] = relationship(back_populates="domains")

    __table_args__ = (CheckConstraint("host = lower(host)", name="host_lowercase"),)


class StaffAccount(PlatformBase):
    """A person who signs in to a console. One account may work for several ISPs."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(Text)
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_login_at: Mapped[datetime | None]
    # Part of every session cookie; raised at sign-out, password change and disable, so
    # that every cookie issued before (a copied one too) stops working at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    memberships: Mapped[list[TenantMembership]] = relationship(
        back_populates="staff", cascade="all, delete-orphan"
    )

    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)


class TenantMembership(PlatformBase):
    """A staff account's role at one ISP."""

    __tablename__ = "tenant_memberships"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    # An agent's reseller record in the tenant's schema (another schema: not a foreign key).
    reseller_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    staff: Mapped[StaffAccount] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship()

    __table_args__ = (UniqueConstraint("staff_id", "tenant_id"),)


class StaffInvitation(PlatformBase):
    """An invitation to work at one ISP in a role, opened by a link only its holder has.

    Nothing about existing accounts is looked up when inviting: the person who opens the
    link either sets a password for a new account or proves, with their current password,
    that the existing account with that email is theirs. Only a SHA-256 of the link's
    token is kept."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "invitation_role"))
    # An agent's reseller record in the tenant's schema (another schema: not a foreign key).
    reseller_id: Mapped[int | None] = mapped_column(BigInteger)
    invited_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("email = lower(email)", name="invitation_email_lowercase"),)


class ApiKey(PlatformBase):
    """A bearer credential. Only a hash of the secret is stored; the prefix is shown to
    people so they can tell keys apart. A key without a tenant is a platform key."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    # A reseller or agent record in the tenant's own schema; not a foreign key because it
    # lives in another schema.
    reseller_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class WebhookRoute(PlatformBase):
    """A secret path token that names a tenant, for providers that call one public address
    form for every ISP (Daraja's callbacks). Only a SHA-256 of the token is kept here."""

    __tablename__ = "webhook_routes"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (UniqueConstraint("tenant_id", "provider"),)


class RadiusClientRoute(PlatformBase):
    """A router that sends RADIUS from `source_address`, and whose it is. A RADIUS packet
    names its tenant only by the address it comes from, so an address belongs to one
    router of one ISP across the whole platform. The shared secret stays, encrypted, in
    the tenant's own schema."""

    __tablename__ = "radius_clients"

    source_address: Mapped[str] = mapped_column(String(45), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The router's id in the tenant's schema (another schema, so not a foreign key).
    router_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (UniqueConstraint("tenant_id", "router_id"),)


class UssdCodeRoute(PlatformBase):
    """A USSD service code that names a tenant: the ISP's own code (extension ''), or a
    code shared by several ISPs and this ISP's extension on it (`*384*12*3#` arrives as
    service code `*384*12#` and text starting `3`). One code and extension, one ISP."""

    __tablename__ = "ussd_codes"

    service_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    extension: Mapped[str] = mapped_column(String(6), primary_key=True, default="")
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (UniqueConstraint("tenant_id"),)
