"""Services and the tenant's billing settings (grace period, reminders, postpaid terms)."""

from __future__ import annotations

import enum
from datetime import datetime

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import ServiceType, text_enum
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column


class SuspensionReason(enum.StrEnum):
    OVERDUE = "overdue"
    STAFF = "staff"


class ServiceStatus(enum.StrEnum):
    # Created but not yet live: a prepaid service waiting for its first period to be paid.
    PENDING = "pending"
    ACTIVE = "active"
    # Cut off by staff or for an overdue postpaid invoice; comes back with restore.
    SUSPENDED = "suspended"
    # A prepaid period ran out without a renewal; a payment that covers the price renews it.
    EXPIRED = "expired"
    TERMINATED = "terminated"


class Service(TenantBase):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="RESTRICT"))
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="RESTRICT"))
    service_type: Mapped[ServiceType] = mapped_column(text_enum(ServiceType, "service_type"))
    # The PPPoE or hotspot login: one live service per username in the tenant (the router
    # knows no subscribers); a terminated service frees its username and address.
    username: Mapped[str | None] = mapped_column(String(64))
    # Fernet token under a key derived from the installation's secret (RADIUS needs the
    # clear text back for CHAP, so a one-way hash would not do).
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    mac_address: Mapped[str | None] = mapped_column(String(17))
    static_ip: Mapped[str | None] = mapped_column(INET)
    status: Mapped[ServiceStatus] = mapped_column(
        text_enum(ServiceStatus, "service_status"), default=ServiceStatus.PENDING
    )
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    activated_at: Mapped[datetime | None]
    # The billed period: [period_start, expires_at). Proration and renewals start here.
    period_start: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    suspended_at: Mapped[datetime | None]
    # Why it is suspended: "overdue" (the lifecycle; a payment that covers restores it) or
    # "staff" (only staff lift it).
    suspension_reason: Mapped[str | None] = mapped_column(String(20))
    terminated_at: Mapped[datetime | None]
    # The period end for which a reminder was sent: at most one of each kind per period.
    due_soon_reminded_for: Mapped[datetime | None]
    overdue_reminded_for: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint(
            "mac_address IS NULL OR mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'",
            name="mac_format",
        ),
        CheckConstraint(
            "status NOT IN ('active', 'suspended', 'expired') OR expires_at IS NOT NULL",
            name="live_has_period",
        ),
        Index(
            "uq_services_live_username",
            "username",
            unique=True,
            postgresql_where=text("status <> 'terminated'"),
        ),
        Index(
            "uq_services_live_static_ip",
            "static_ip",
            unique=True,
            postgresql_where=text("status <> 'terminated'"),
        ),
        Index("ix_services_subscriber_id", "subscriber_id"),
        Index("ix_services_package_id", "package_id"),
        # The lifecycle's scan: live services by period end.
        Index(
            "ix_services_live_expires_at",
            "expires_at",
            postgresql_where=text("status IN ('active', 'suspended')"),
        ),
    )


class BillingSettings(TenantBase):
    """One row per tenant (id = 1); a tenant without a row uses the defaults below."""

    __tablename__ = "billing_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    # Days an overdue postpaid invoice is tolerated before the service is suspended.
    grace_days: Mapped[int] = mapped_column(Integer, default=3)
    # reminder.due_soon this many days before a prepaid expiry or a postpaid due date.
    reminder_days_before: Mapped[int] = mapped_column(Integer, default=2)
    # A postpaid invoice is due this many days after it is issued (at the period start).
    postpaid_due_days: Mapped[int] = mapped_column(Integer, default=7)

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("grace_days >= 0", name="grace_not_negative"),
        CheckConstraint("reminder_days_before >= 0", name="reminder_not_negative"),
        CheckConstraint("postpaid_due_days >= 0", name="due_days_not_negative"),
    )


DEFAULT_SETTINGS = {"grace_days": 3, "reminder_days_before": 2, "postpaid_due_days": 7}
