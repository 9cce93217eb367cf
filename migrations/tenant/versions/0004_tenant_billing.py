"""tenant billing: ledger accounts, entries, invoices, payments, allocations, credit notes, receipts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The ledger is append-only: a correction is a new entry, never an edit. The function is
# created in the tenant's schema (the migration's search_path) and names no table, so it is
# the same in every schema.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER ledger_entries_append_only
BEFORE UPDATE OR DELETE ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()
"""
# TRUNCATE skips row triggers; refuse it too.
NO_TRUNCATE_TRIGGER = """
CREATE TRIGGER ledger_entries_no_truncate
BEFORE TRUNCATE ON ledger_entries
FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "document_sequences",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_document_sequences")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_accounts_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("subscriber_id", name=op.f("uq_accounts_subscriber_id")),
    )
    op.create_table(
        "adjustments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_adjustments_amount_not_zero")),
        sa.CheckConstraint("length(trim(reason)) > 0", name=op.f("ck_adjustments_reason_given")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_adjustments_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_adjustments_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjustments")),
    )
    op.create_index(
        op.f("ix_adjustments_subscriber_id"), "adjustments", ["subscriber_id"], unique=False
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "issued",
                "paid",
                "void",
                name="invoice_status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(number IS NULL) = (issued_at IS NULL)", name=op.f("ck_invoices_numbered_when_issued")
        ),
        sa.CheckConstraint(
            "CASE status WHEN 'draft' THEN issued_at IS NULL"
            " WHEN 'void' THEN true ELSE issued_at IS NOT NULL END",
            name=op.f("ck_invoices_issued_unless_draft"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_invoices_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_invoices_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_invoices_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index("ix_invoices_status_due_at", "invoices", ["status", "due_at"], unique=False)
    op.create_index(op.f("ix_invoices_subscriber_id"), "invoices", ["subscriber_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("receipt_number", sa.String(length=20), nullable=True),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "method",
            sa.Enum(
                "cash",
                "bank",
                "mpesa",
                "card",
                "other",
                name="payment_method",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payer_phone", sa.String(length=16), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_payments_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_payments_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("receipt_number", name=op.f("uq_payments_receipt_number")),
        sa.UniqueConstraint("reference", name=op.f("uq_payments_reference")),
    )
    op.create_index(op.f("ix_payments_subscriber_id"), "payments", ["subscriber_id"], unique=False)
    op.create_table(
        "credit_notes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_notes_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_credit_notes_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_credit_notes_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_credit_notes_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("number", name=op.f("uq_credit_notes_number")),
    )
    op.create_index(
        op.f("ix_credit_notes_subscriber_id"), "credit_notes", ["subscriber_id"], unique=False
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "amount = quantity * unit_price",
            name=op.f("ck_invoice_lines_amount_is_quantity_times_price"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_invoice_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price >= 0", name=op.f("ck_invoice_lines_unit_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_lines_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index(
        op.f("ix_invoice_lines_invoice_id"), "invoice_lines", ["invoice_id"], unique=False
    )
    op.create_index(
        op.f("ix_invoice_lines_service_id"), "invoice_lines", ["service_id"], unique=False
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("credit_note_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(payment_id IS NULL) <> (credit_note_id IS NULL)",
            name=op.f("ck_allocations_one_source"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_allocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_allocations_credit_note_id_credit_notes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_allocations_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_allocations_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
    )
    op.create_index(
        op.f("ix_allocations_credit_note_id"), "allocations", ["credit_note_id"], unique=False
    )
    op.create_index(op.f("ix_allocations_invoice_id"), "allocations", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_allocations_payment_id"), "allocations", ["payment_id"], unique=False)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "invoice",
                "invoice_void",
                "payment",
                "credit_note",
                "adjustment",
                name="entry_kind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("credit_note_id", sa.BigInteger(), nullable=True),
        sa.Column("adjustment_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_label", sa.String(length=120), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_ledger_entries_account_id_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["adjustment_id"],
            ["adjustments.id"],
            name=op.f("fk_ledger_entries_adjustment_id_adjustments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_notes.id"],
            name=op.f("fk_ledger_entries_credit_note_id_credit_notes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_ledger_entries_invoice_id_invoices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_ledger_entries_payment_id_payments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        "ix_ledger_entries_account_id_id", "ledger_entries", ["account_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_entries_invoice_id"), "ledger_entries", ["invoice_id"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_entries_payment_id"), "ledger_entries", ["payment_id"], unique=False
    )

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)
    op.execute(NO_TRUNCATE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER ledger_entries_no_truncate ON ledger_entries")
    op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
    op.execute("DROP FUNCTION ledger_entries_append_only()")
    op.drop_index(op.f("ix_ledger_entries_payment_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_invoice_id"), table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_account_id_id", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index(op.f("ix_allocations_payment_id"), table_name="allocations")
    op.drop_index(op.f("ix_allocations_invoice_id"), table_name="allocations")
    op.drop_index(op.f("ix_allocations_credit_note_id"), table_name="allocations")
    op.drop_table("allocations")
    op.drop_index(op.f("ix_invoice_lines_service_id"), table_name="invoice_lines")
    op.drop_index(op.f("ix_invoice_lines_invoice_id"), table_name="invoice_lines")
    op.drop_table("invoice_lines")
    op.drop_index(op.f("ix_credit_notes_subscriber_id"), table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_index(op.f("ix_payments_subscriber_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_invoices_subscriber_id"), table_name="invoices")
    op.drop_index("ix_invoices_status_due_at", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_adjustments_subscriber_id"), table_name="adjustments")
    op.drop_table("adjustments")
    op.drop_table("accounts")
    op.drop_table("document_sequences")
