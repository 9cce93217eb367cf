"""Voucher batches and codes, their sales (with the agent's commission), and the hotspot
purchases the captive portal makes with M-Pesa.

A voucher's life: new (printed, not yet sold) → sold (an agent or the portal sold it) →
active (redeemed: its validity runs from its first accepted login) → used_up (validity
over or data cap reached); an unused voucher past its batch's expiry is expired; staff
may revoke a voucher or a whole batch at any time before it is used up.
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
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column


class VoucherStatus(enum.StrEnum):
    NEW = "new"
    SOLD = "sold"
    ACTIVE = "active"
    USED_UP = "used_up"
    EXPIRED = "expired"
    REVOKED = "revoked"


class SaleChannel(enum.StrEnum):
    # An agent (or staff on the agent's behalf) recorded the sale.
    AGENT = "agent"
    # A printed voucher that nobody marked sold was redeemed: the sale is counted then.
    REDEMPTION = "redemption"
    # Bought on the captive portal with M-Pesa.
    PORTAL = "portal"


class PurchaseStatus(enum.StrEnum):
    # STK push sent; waiting for the customer's PIN.
    PENDING = "pending"
    # Paid, voucher issued (and redeemed for the device that bought it).
    PAID = "paid"
    FAILED = "failed"


class VoucherBatch(TenantBase):
    __tablename__ = "voucher_batches"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), server_default="")
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="RESTRICT"))
    count: Mapped[int] = mapped_column(Integer)
    # What one voucher sells for, in minor units of `currency` (the package's price unless
    # the operator set another).
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code_length: Mapped[int] = mapped_column(Integer)
    # The characters codes are drawn from (no look-alikes such as 0/O or 1/I/l).
    alphabet: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(8), server_default="")
    # An unused (new or sold) voucher expires at this time; None: never.
    unused_expires_at: Mapped[datetime | None]
    # Bind a voucher to the first device (MAC address) that uses it.
    mac_binding: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The agent (a reseller record) the batch is assigned to, and their commission in basis
    # points of the price (1000 = 10 %), fixed when the batch is assigned.
    reseller_id: Mapped[int | None] = mapped_column(
        ForeignKey("resellers.id", ondelete="RESTRICT"), index=True
    )
    commission_bp: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(120), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("code_length BETWEEN 6 AND 24", name="code_length_range"),
        CheckConstraint("commission_bp BETWEEN 0 AND 10000", name="commission_range"),
    )


class Voucher(TenantBase):
    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("voucher_batches.id", ondelete="RESTRICT"))
    # Prefix and code, upper case; unique in the ISP (another ISP may hold the same code).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[VoucherStatus] = mapped_column(
        text_enum(VoucherStatus, "voucher_status"), server_default=VoucherStatus.NEW.value
    )
    sold_at: Mapped[datetime | None]
    # Redeemed: the voucher is the login of its service from here on.
    activated_at: Mapped[datetime | None]
    # Its validity runs from the first login a RADIUS server accepted (Access-Accept or
    # Accounting-Start) to `expires_at`; until then (and for ever on api-mode routers, which
    # report no logins) from redemption.
    first_login_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # The device the voucher is bound to (upper case, colon-separated), when the batch binds.
    mac_address: Mapped[str | None] = mapped_column(String(17))
    # The hotspot service redemption created (its username and password are the code).
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    ended_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_vouchers_batch_id_id", "batch_id", "id"),
        # The expiry scan: unused vouchers by nothing but status (batches carry the date).
        Index(
            "ix_vouchers_unused_batch",
            "batch_id",
            postgresql_where=text("status IN ('new', 'sold')"),
        ),
        CheckConstraint(
            "mac_address IS NULL OR mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'",
            name="mac_format",
        ),
        CheckConstraint(
            "status NOT IN ('active', 'used_up') OR activated_at IS NOT NULL",
            name="used_has_activation",
        ),
    )


class VoucherSale(TenantBase):
    """One row per sold voucher, never changed: what it sold for, through whom, and the
    agent's commission on it."""

    __tablename__ = "voucher_sales"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    voucher_id: Mapped[int] = mapped_column(
        ForeignKey("vouchers.id", ondelete="RESTRICT"), unique=True
    )
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("voucher_batches.id", ondelete="RESTRICT"), index=True
    )
    reseller_id: Mapped[int | None] = mapped_column(
        ForeignKey("resellers.id", ondelete="RESTRICT"), index=True
    )
    channel: Mapped[SaleChannel] = mapped_column(text_enum(SaleChannel, "sale_channel"))
    price: Mapped[int] = mapped_column(BigInteger)
    commission: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # The M-Pesa payment behind a portal sale.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    sold_by: Mapped[str] = mapped_column(String(120), server_default="")
    sold_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("commission >= 0 AND commission <= price", name="commission_range"),
        Index("ix_voucher_sales_sold_at", "sold_at"),
    )


class HotspotPurchase(TenantBase):
    """A package bought on the captive portal: an STK push, then (paid) a voucher issued
    and redeemed for the device that asked. `token` is the waiting page's secret handle."""

    __tablename__ = "hotspot_purchases"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id", ondelete="RESTRICT"))
    phone: Mapped[str] = mapped_column(String(16))
    mac_address: Mapped[str | None] = mapped_column(String(17))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    # The buyer's account: made (or found) only once the payment arrives, so a prompt
    # that is cancelled or ignored leaves no subscriber behind.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT")
    )
    # The language the buyer chose on the portal (en/sw), for the account made when paid.
    language: Mapped[str | None] = mapped_column(String(2))
    mpesa_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("mpesa_requests.id", ondelete="RESTRICT"), unique=True
    )
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id", ondelete="RESTRICT"))
    status: Mapped[PurchaseStatus] = mapped_column(
        text_enum(PurchaseStatus, "purchase_status"), server_default=PurchaseStatus.PENDING.value
    )
    failure: Mapped[str] = mapped_column(String(300), server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]


class PortalSettings(TenantBase):
    """How the ISP's captive portal looks (one row, id = 1; defaults without one)."""

    __tablename__ = "portal_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    # The name shown at the top; the ISP's name when empty.
    title: Mapped[str] = mapped_column(String(120), server_default="")
    welcome: Mapped[str] = mapped_column(String(500), server_default="")
    # Shown when the portal is in Swahili; empty: the English welcome.
    welcome_sw: Mapped[str] = mapped_column(String(500), server_default="")
    # A small logo (PNG, JPEG, SVG or WebP), served by the portal itself so that the
    # walled garden need not open another host.
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(40))
    primary_colour: Mapped[str] = mapped_column(String(7), server_default="#0b6e4f")
    accent_colour: Mapped[str] = mapped_column(String(7), server_default="#f2a541")
    support_phone: Mapped[str | None] = mapped_column(String(16))
    default_language: Mapped[str] = mapped_column(String(2), server_default="en")
    # The names the ISP's hotspots log in at (MikroTik's hotspot DNS name, or an address),
    # separated by spaces: the portal posts codes only to these, private addresses and
    # the routers' own addresses.
    hotspot_hosts: Mapped[str] = mapped_column(String(500), server_default="")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("primary_colour ~ '^#[0-9a-fA-F]{6}$'", name="primary_colour_hex"),
        CheckConstraint("accent_colour ~ '^#[0-9a-fA-F]{6}$'", name="accent_colour_hex"),
        CheckConstraint("default_language IN ('en', 'sw')", name="language_known"),
    )
