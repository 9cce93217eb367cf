"""M-Pesa tables: the paybill's settings, every callback as it arrived, STK push requests,
and one row per M-Pesa receipt (the exactly-once key, and the unmatched queue).

Amounts are integer minor units (cents), like the rest of billing.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from kiunga.platform.db.base import TenantBase
from kiunga.tenants.catalog.models import text_enum
from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class ShortcodeType(enum.StrEnum):
    PAYBILL = "paybill"
    TILL = "till"


class DarajaEnvironment(enum.StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class CallbackKind(enum.StrEnum):
    STK = "stk"
    C2B_VALIDATION = "c2b_validation"
    C2B_CONFIRMATION = "c2b_confirmation"
    RESULT = "result"


class CallbackOutcome(enum.StrEnum):
    RECEIVED = "received"  # stored, not yet processed (or processing failed)
    CREDITED = "credited"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"
    ACCEPTED = "accepted"  # a validation answered yes
    REJECTED = "rejected"  # a validation answered no
    FAILED = "failed"  # an STK push the customer cancelled or that failed
    FLAGGED = "flagged"  # recorded for a person to look at; nothing credited


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REVIEW = "review"  # paid, but not as asked (another amount): in the unmatched queue


class TransactionStatus(enum.StrEnum):
    CREDITED = "credited"
    UNMATCHED = "unmatched"


class MpesaSettings(TenantBase):
    """One row (id = 1). Secrets are Fernet tokens (see tenants.mpesa.secrets)."""

    __tablename__ = "mpesa_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    environment: Mapped[DarajaEnvironment] = mapped_column(
        text_enum(DarajaEnvironment, "daraja_environment"), default=DarajaEnvironment.SANDBOX
    )
    # Another Daraja address than the environment's (a local emulator in development).
    base_url: Mapped[str | None] = mapped_column(String(200))
    shortcode_type: Mapped[ShortcodeType] = mapped_column(
        text_enum(ShortcodeType, "shortcode_type"), default=ShortcodeType.PAYBILL
    )
    # The business shortcode (the paybill, or a till's store number) STK pushes charge to.
    shortcode: Mapped[str] = mapped_column(String(12))
    till_number: Mapped[str | None] = mapped_column(String(12))
    consumer_key_encrypted: Mapped[str | None] = mapped_column(Text)
    consumer_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    passkey_encrypted: Mapped[str | None] = mapped_column(Text)
    initiator_name: Mapped[str | None] = mapped_column(String(100))
    security_credential_encrypted: Mapped[str | None] = mapped_column(Text)
    # The path token of this ISP's callback URLs (also hashed in platform.webhook_routes).
    callback_token_encrypted: Mapped[str | None] = mapped_column(Text)
    # Addresses or networks (CIDR) callbacks may come from, one per line; empty: any.
    allowed_sources: Mapped[str] = mapped_column(Text, default="")
    c2b_registered_at: Mapped[datetime | None]
    c2b_registration_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class MpesaCallback(TenantBase):
    """Every callback, stored before it is processed, with what became of it."""

    __tablename__ = "mpesa_callbacks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[CallbackKind] = mapped_column(text_enum(CallbackKind, "mpesa_callback_kind"))
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source_address: Mapped[str | None] = mapped_column(String(45))
    # The body as sent (at most intake.MAX_BODY_BYTES, kept even when it is not JSON; bytes
    # that are not UTF-8, and NUL, shown as U+FFFD), and parsed when it was usable JSON.
    raw_body: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    receipt: Mapped[str | None] = mapped_column(String(40))
    checkout_request_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[CallbackOutcome] = mapped_column(
        text_enum(CallbackOutcome, "mpesa_callback_outcome"), default=CallbackOutcome.RECEIVED
    )
    # Why a person should look at it: malformed, unknown_shortcode, amount_mismatch,
    # changed_replay, unknown_checkout_request, terminated_account, no_payer, …
    flag: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    processed_at: Mapped[datetime | None]
    # Processing attempts that raised; after intake.MAX_ATTEMPTS it is left flagged.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        Index("ix_mpesa_callbacks_flagged", "id", postgresql_where=text("flag IS NOT NULL")),
        Index("ix_mpesa_callbacks_receipt", "receipt"),
    )


class MpesaRequest(TenantBase):
    """An STK push: what was asked for, of whom, and how it ended."""

    __tablename__ = "mpesa_requests"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # None until paid for a payer named only then (a first-time portal buyer: see payers).
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    account_reference: Mapped[str] = mapped_column(String(12))
    phone: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[RequestStatus] = mapped_column(
        text_enum(RequestStatus, "mpesa_request_status"), default=RequestStatus.PENDING
    )
    merchant_request_id: Mapped[str | None] = mapped_column(String(100))
    checkout_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    result_code: Mapped[int | None] = mapped_column(Integer)
    result_desc: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    requested_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(
            "ix_mpesa_requests_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )


class MpesaTransaction(TenantBase):
    """Money M-Pesa says arrived, once per receipt: credited to an account, or waiting in
    the unmatched queue for staff to assign."""

    __tablename__ = "mpesa_transactions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # MpesaReceiptNumber / TransID; unknown only for an STK push settled by STK Query.
    receipt: Mapped[str | None] = mapped_column(String(40), unique=True)
    source: Mapped[str] = mapped_column(String(10))  # "stk" or "c2b"
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[TransactionStatus] = mapped_column(
        text_enum(TransactionStatus, "mpesa_transaction_status")
    )
    flag: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    shortcode: Mapped[str | None] = mapped_column(String(12))
    bill_ref: Mapped[str | None] = mapped_column(String(40))
    # As sent: a number, masked (2547****149) or hashed (SHA-256 hex, 64 characters).
    msisdn: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164, when it was not masked
    payer_name: Mapped[str | None] = mapped_column(String(200))
    paid_at: Mapped[datetime]
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="RESTRICT"), index=True
    )
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("mpesa_requests.id", ondelete="RESTRICT"), unique=True
    )
    assigned_by: Mapped[str | None] = mapped_column(String(120))
    assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "(status = 'credited') = (payment_id IS NOT NULL)", name="credited_has_payment"
        ),
        Index(
            "ix_mpesa_transactions_unmatched",
            "id",
            postgresql_where=text("status = 'unmatched'"),
        ),
    )
