"""tenant mpesa: settings, callbacks as received, STK push requests, receipts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _text_enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def _created(name: str = "created_at") -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "mpesa_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "environment",
            _text_enum("daraja_environment", "sandbox", "production"),
            nullable=False,
        ),
        sa.Column("base_url", sa.String(length=200), nullable=True),
        sa.Column(
            "shortcode_type", _text_enum("shortcode_type", "paybill", "till"), nullable=False
        ),
        sa.Column("shortcode", sa.String(length=12), nullable=False),
        sa.Column("till_number", sa.String(length=12), nullable=True),
        sa.Column("consumer_key_encrypted", sa.Text(), nullable=True),
        sa.Column("consumer_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("passkey_encrypted", sa.Text(), nullable=True),
        sa.Column("initiator_name", sa.String(length=100), nullable=True),
        sa.Column("security_credential_encrypted", sa.Text(), nullable=True),
        sa.Column("callback_token_encrypted", sa.Text(), nullable=True),
        sa.Column("allowed_sources", sa.Text(), nullable=False),
        sa.Column("c2b_registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("c2b_registration_error", sa.Text(), nullable=True),
        _created("updated_at"),
        sa.CheckConstraint("id = 1", name=op.f("ck_mpesa_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_settings")),
    )
    op.create_table(
        "mpesa_callbacks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "kind",
            _text_enum(
                "mpesa_callback_kind", "stk", "c2b_validation", "c2b_confirmation", "result"
            ),
            nullable=False,
        ),
        _created("received_at"),
        sa.Column("source_address", sa.String(length=45), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("receipt", sa.String(length=40), nullable=True),
        sa.Column("checkout_request_id", sa.String(length=100), nullable=True),
        sa.Column(
            "outcome",
            _text_enum(
                "mpesa_callback_outcome",
                "received",
                "credited",
                "duplicate",
                "unmatched",
                "accepted",
                "rejected",
                "failed",
                "flagged",
            ),
            nullable=False,
        ),
        sa.Column("flag", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_callbacks")),
    )
    op.create_index(
        "ix_mpesa_callbacks_flagged",
        "mpesa_callbacks",
        ["id"],
        unique=False,
        postgresql_where=sa.text("flag IS NOT NULL"),
    )
    op.create_index("ix_mpesa_callbacks_receipt", "mpesa_callbacks", ["receipt"], unique=False)
    op.create_table(
        "mpesa_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("account_reference", sa.String(length=12), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            _text_enum("mpesa_request_status", "pending", "paid", "failed", "expired", "review"),
            nullable=False,
        ),
        sa.Column("merchant_request_id", sa.String(length=100), nullable=True),
        sa.Column("checkout_request_id", sa.String(length=100), nullable=True),
        sa.Column("result_code", sa.Integer(), nullable=True),
        sa.Column("result_desc", sa.Text(), nullable=True),
        sa.Column("receipt", sa.String(length=40), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        _created(),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_requests_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_mpesa_requests_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_mpesa_requests_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_requests")),
        sa.UniqueConstraint(
            "checkout_request_id", name=op.f("uq_mpesa_requests_checkout_request_id")
        ),
    )
    op.create_index(
        op.f("ix_mpesa_requests_subscriber_id"), "mpesa_requests", ["subscriber_id"], unique=False
    )
    op.create_index(
        "ix_mpesa_requests_pending",
        "mpesa_requests",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "mpesa_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("receipt", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            _text_enum("mpesa_transaction_status", "credited", "unmatched"),
            nullable=False,
        ),
        sa.Column("flag", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("shortcode", sa.String(length=12), nullable=True),
        sa.Column("bill_ref", sa.String(length=40), nullable=True),
        sa.Column("msisdn", sa.String(length=20), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("payer_name", sa.String(length=200), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("assigned_by", sa.String(length=120), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_mpesa_transactions_amount_positive")),
        sa.CheckConstraint(
            "(status = 'credited') = (payment_id IS NOT NULL)",
            name=op.f("ck_mpesa_transactions_credited_has_payment"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_mpesa_transactions_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["mpesa_requests.id"],
            name=op.f("fk_mpesa_transactions_request_id_mpesa_requests"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_mpesa_transactions_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_transactions")),
        sa.UniqueConstraint("receipt", name=op.f("uq_mpesa_transactions_receipt")),
        sa.UniqueConstraint("request_id", name=op.f("uq_mpesa_transactions_request_id")),
    )
    op.create_index(
        op.f("ix_mpesa_transactions_subscriber_id"),
        "mpesa_transactions",
        ["subscriber_id"],
        unique=False,
    )
    op.create_index(
        "ix_mpesa_transactions_unmatched",
        "mpesa_transactions",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'unmatched'"),
    )


def downgrade() -> None:
    op.drop_table("mpesa_transactions")
    op.drop_table("mpesa_requests")
    op.drop_table("mpesa_callbacks")
    op.drop_table("mpesa_settings")
