"""A tenant's routers: how to reach each one, how Kiunga drives it, and what it last said.

A router in `api` mode is provisioned by Kiunga over the RouterOS API; in `radius` mode it
asks Kiunga's RADIUS server, which finds it by `radius_source_address` (mirrored into the
platform's radius_clients table). Passwords and shared secrets are encrypted at rest.
"""

from __future__ import annotations

import enum
from datetime import datetime

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

API_PORT = 8728
API_TLS_PORT = 8729
COA_PORT = 3799


class RouterMode(enum.StrEnum):
    API = "api"
    RADIUS = "radius"


class Router(TenantBase):
    __tablename__ = "routers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str] = mapped_column(String(253))
    api_port: Mapped[int] = mapped_column(Integer, default=API_PORT)
    use_tls: Mapped[bool] = mapped_column(Boolean, default=False)
    api_username: Mapped[str | None] = mapped_column(String(100))
    api_password_encrypted: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[RouterMode] = mapped_column(text_enum(RouterMode, "router_mode"))
    radius_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    radius_source_address: Mapped[str | None] = mapped_column(String(45))
    coa_port: Mapped[int] = mapped_column(Integer, default=COA_PORT)
    require_message_authenticator: Mapped[bool] = mapped_column(Boolean, default=False)

    # What the router said when last asked (test connection or the status poll).
    last_seen_at: Mapped[datetime | None]
    identity: Mapped[str | None] = mapped_column(String(255))
    routeros_version: Mapped[str | None] = mapped_column(String(64))
    uptime_seconds: Mapped[int | None] = mapped_column(BigInteger)
    cpu_load: Mapped[int | None] = mapped_column(Integer)
    free_memory: Mapped[int | None] = mapped_column(BigInteger)
    total_memory: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]

    # api-ssl: SHA-256 (hex) of the certificate pinned on first use; a router presenting
    # another is refused (and what it presented kept) until staff trust the new one.
    tls_fingerprint: Mapped[str | None] = mapped_column(String(64))
    tls_pinned_at: Mapped[datetime | None]
    tls_refused_fingerprint: Mapped[str | None] = mapped_column(String(64))
    tls_refused_at: Mapped[datetime | None]

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("api_port BETWEEN 1 AND 65535", name="api_port_range"),
        CheckConstraint("coa_port BETWEEN 1 AND 65535", name="coa_port_range"),
        CheckConstraint(
            "mode <> 'radius' OR radius_secret_encrypted IS NOT NULL",
            name="radius_needs_secret",
        ),
    )

    @property
    def online(self) -> bool:
        """Answered when last asked (no error since it was last seen)."""
        if self.last_seen_at is None:
            return False
        return self.last_error_at is None or self.last_error_at <= self.last_seen_at
