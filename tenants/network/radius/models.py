"""What the RADIUS server records in a tenant's schema: sessions as the NAS reports them,
usage per service and day (UTC days) and per billed period (for data caps), and every CoA
or Disconnect-Request sent to a router with its outcome."""

from __future__ import annotations

from datetime import date, datetime

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.services.models import Service
from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column


class RadiusSession(TenantBase):
    """One NAS session (Acct-Session-Id is unique per router). Octet totals include the
    gigawords; they only grow, so a late or repeated Interim-Update changes nothing."""

    __tablename__ = "radius_sessions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    router_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="SET NULL"))
    acct_session_id: Mapped[str] = mapped_column(String(253))
    username: Mapped[str | None] = mapped_column(String(253))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    nas_address: Mapped[str | None] = mapped_column(String(45))
    framed_ip: Mapped[str | None] = mapped_column(String(45))
    calling_station_id: Mapped[str | None] = mapped_column(String(253))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    session_time: Mapped[int | None] = mapped_column(BigInteger)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    terminate_cause: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("router_id", "acct_session_id"),
        Index(
            "ix_radius_sessions_open_service_id",
            "service_id",
            postgresql_where=text("stopped_at IS NULL"),
        ),
        Index(
            "ix_radius_sessions_open_updated_at",
            "updated_at",
            postgresql_where=text("stopped_at IS NULL"),
        ),
    )


class UsageDaily(TenantBase):
    """Octets per service and UTC day (input: from the subscriber, output: to them)."""

    __tablename__ = "usage_daily"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(BigInteger, index=True)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)


class UsagePeriod(TenantBase):
    """Octets per service and billed period (from the service's period_start): what a
    package's data cap is measured against. `cap_reached_at` is set once per period."""

    __tablename__ = "usage_periods"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    cap_reached_at: Mapped[datetime | None]


class DynAuthAttempt(TenantBase):
    """One CoA- or Disconnect-Request exchange with a router (retransmissions included)."""

    __tablename__ = "dynauth_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("radius_sessions.id", ondelete="SET NULL")
    )
    router_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # coa | disconnect
    reason: Mapped[str] = mapped_column(String(100))  # the event that caused it
    outcome: Mapped[str] = mapped_column(String(20))  # ack | nak | timeout | no_secret
    error_cause: Mapped[int | None] = mapped_column(Integer)
    packets: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# A login the subscriber caches have not heard of yet (created moments ago) is looked up by
# its name as the NAS sent it, regardless of case (logins are unique per ISP that way).
Index(
    "ix_services_live_login",
    func.lower(Service.username),
    postgresql_where=text("status <> 'terminated'"),
)
