from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

SEARCH_TEXT_EXPRESSION = "lower((name)::text || ' ' || (COALESCE(email, ''))::text)"


class SubscriberStatus(enum.StrEnum):
    LEAD = "lead"
    PENDING_INSTALLATION = "pending_installation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class Language(enum.StrEnum):
    ENGLISH = "en"
    SWAHILI = "sw"


class Reseller(TenantBase):
    """A reseller or agent who brings subscribers (and, later, sells vouchers)."""

    __tablename__ = "resellers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Subscriber(TenantBase):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # What the subscriber types as the M-Pesa account: short, unique, upper case.
    account_number: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    region: Mapped[str] = mapped_column(String(120), default="")
    branch: Mapped[str] = mapped_column(String(120), default="")
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(60), default="")
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    notes: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[Language] = mapped_column(text_enum(Language, "language"), default="en")
    status: Mapped[SubscriberStatus] = mapped_column(
        text_enum(SubscriberStatus, "subscriber_status"), default=SubscriberStatus.LEAD
    )
    reseller_id: Mapped[int | None] = mapped_column(
        ForeignKey("resellers.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    # What the list's search box matches names and emails against: lower case, kept by the
    # database, because a plain LIKE over it is several times faster than ILIKE over both.
    search_text: Mapped[str | None] = mapped_column(
        Text, Computed(SEARCH_TEXT_EXPRESSION, persisted=True)
    )

    phones: Mapped[list[SubscriberPhone]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        order_by="(SubscriberPhone.is_primary.desc(), SubscriberPhone.id)",
        lazy="selectin",
    )

    __table_args__ = (
        CheckConstraint("account_number = upper(account_number)", name="account_upper"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="gps_both_or_neither"),
        Index("ix_subscribers_status", "status"),
        Index("ix_subscribers_region", "region"),
        # The list's sort orders, so that a deep page need not sort the whole table.
        Index("ix_subscribers_name_id", "name", "id"),
        Index("ix_subscribers_created_at_id", "created_at", "id"),
    )

    @property
    def primary_phone(self) -> str | None:
        return self.phones[0].phone if self.phones else None


class SubscriberPhone(TenantBase):
    """A phone number in E.164 (+2547…). Family members may share one."""

    __tablename__ = "subscriber_phones"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    subscriber: Mapped[Subscriber] = relationship(back_populates="phones")

    __table_args__ = (
        UniqueConstraint("subscriber_id", "phone"),
        CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name="phone_e164"),
    )


class SubscriberStatusChange(TenantBase):
    """Every status change: who (a staff member, an API key or the system), when and why."""

    __tablename__ = "subscriber_status_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[SubscriberStatus | None] = mapped_column(
        text_enum(SubscriberStatus, "subscriber_status")
    )
    to_status: Mapped[SubscriberStatus] = mapped_column(
        text_enum(SubscriberStatus, "subscriber_status")
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    # platform.staff_accounts.id; not a foreign key because it lives in another schema.
    changed_by_staff_id: Mapped[int | None] = mapped_column(BigInteger)
    # The actor's label: a staff member's email, "api_key:<prefix>", "system", "import:<file>"
    changed_by: Mapped[str] = mapped_column(String(60))
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
