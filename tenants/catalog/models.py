from __future__ import annotations

import enum
from datetime import datetime

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.sites.models import Site
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Identity,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class BillingType(enum.StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class ValidityUnit(enum.StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class ServiceType(enum.StrEnum):
    PPPOE = "pppoe"
    HOTSPOT = "hotspot"
    STATIC = "static"


def text_enum(cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored as text with a check constraint: a new value is a plain migration."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        length=24,
        values_callable=lambda members: [member.value for member in members],
    )


package_sites = Table(
    "package_sites",
    TenantBase.metadata,
    Column("package_id", ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class Package(TenantBase):
    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # The name the captive portal shows in Swahili; empty: the name above.
    name_sw: Mapped[str] = mapped_column(String(120), server_default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # Integer minor units (cents) of `currency`; never a float.
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    billing_type: Mapped[BillingType] = mapped_column(text_enum(BillingType, "billing_type"))
    validity_count: Mapped[int] = mapped_column(Integer)
    validity_unit: Mapped[ValidityUnit] = mapped_column(text_enum(ValidityUnit, "validity_unit"))
    service_type: Mapped[ServiceType] = mapped_column(text_enum(ServiceType, "service_type"))
    # MikroTik rate-limit form, upload/download from the subscriber's side, e.g. "5M/10M" or
    # "5M/10M 8M/15M 4M/8M 16/16" (with burst rate, threshold and time).
    rate_limit: Mapped[str] = mapped_column(String(100))
    data_cap_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # The speed after the data cap is reached (fair usage), in the same form; None: cut off.
    fup_rate_limit: Mapped[str | None] = mapped_column(String(100))
    # How many devices may be online at once on one login (RADIUS Simultaneous-Use, the
    # hotspot profile's shared-users): one unless the package allows more.
    shared_users: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # Offered for sale on the ISP's captive portal (hotspot packages only).
    sold_on_portal: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    archived_at: Mapped[datetime | None]

    sites: Mapped[list[Site]] = relationship(secondary=package_sites, lazy="selectin")

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("validity_count > 0", name="validity_positive"),
        CheckConstraint("data_cap_bytes IS NULL OR data_cap_bytes > 0", name="cap_positive"),
        CheckConstraint("shared_users BETWEEN 1 AND 100", name="shared_users_range"),
    )

    @property
    def is_active(self) -> bool:
        return self.archived_at is None
