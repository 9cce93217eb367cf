"""tenant hotspot: voucher batches, vouchers, their sales, portal purchases and the portal's
look; packages learn how many devices may share a login and whether the portal sells them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# A sale is never changed: like the ledger, what was sold, for how much and to whose
# commission stays as it was written (the function names no table: the same in every schema).
SALES_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION voucher_sales_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'voucher sales are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""
SALES_APPEND_ONLY_TRIGGERS = (
    """CREATE TRIGGER voucher_sales_append_only BEFORE UPDATE OR DELETE ON voucher_sales
    FOR EACH ROW EXECUTE FUNCTION voucher_sales_append_only()""",
    """CREATE TRIGGER voucher_sales_no_truncate BEFORE TRUNCATE ON voucher_sales
    FOR EACH STATEMENT EXECUTE FUNCTION voucher_sales_append_only()""",
)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.add_column(
        "packages",
        sa.Column("shared_users", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.add_column(
        "packages",
        sa.Column("sold_on_portal", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_packages_shared_users_range"), "packages", "shared_users BETWEEN 1 AND 100"
    )

    op.create_table(
        "voucher_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), server_default="", nullable=False),
        sa.Column("package_id", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code_length", sa.Integer(), nullable=False),
        sa.Column("alphabet", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), server_default="", nullable=False),
        sa.Column("unused_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mac_binding", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("reseller_id", sa.BigInteger(), nullable=True),
        sa.Column("commission_bp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_by", sa.String(length=120), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("count > 0", name=op.f("ck_voucher_batches_count_positive")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_voucher_batches_price_not_negative")),
        sa.CheckConstraint(
            "code_length BETWEEN 6 AND 24", name=op.f("ck_voucher_batches_code_length_range")
        ),
        sa.CheckConstraint(
            "commission_bp BETWEEN 0 AND 10000", name=op.f("ck_voucher_batches_commission_range")
        ),
        _fk("voucher_batches", "package_id", "packages", "RESTRICT"),
        _fk("voucher_batches", "reseller_id", "resellers", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_batches")),
    )
    op.create_index(
        op.f("ix_voucher_batches_reseller_id"), "voucher_batches", ["reseller_id"], unique=False
    )

    op.create_table(
        "vouchers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), server_default="new", nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "mac_address IS NULL OR mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'",
            name=op.f("ck_vouchers_mac_format"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('active', 'used_up') OR activated_at IS NOT NULL",
            name=op.f("ck_vouchers_used_has_activation"),
        ),
        _fk("vouchers", "batch_id", "voucher_batches", "RESTRICT"),
        _fk("vouchers", "service_id", "services", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("code", name=op.f("uq_vouchers_code")),
    )
    op.create_index("ix_vouchers_batch_id_id", "vouchers", ["batch_id", "id"], unique=False)
    op.create_index(
        "ix_vouchers_unused_batch",
        "vouchers",
        ["batch_id"],
        unique=False,
        postgresql_where=sa.text("status IN ('new', 'sold')"),
    )
    op.create_index(op.f("ix_vouchers_service_id"), "vouchers", ["service_id"], unique=False)

    op.create_table(
        "voucher_sales",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("voucher_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("reseller_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("commission", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("sold_by", sa.String(length=120), server_default="", nullable=False),
        sa.Column(
            "sold_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_voucher_sales_price_not_negative")),
        sa.CheckConstraint(
            "commission >= 0 AND commission <= price",
            name=op.f("ck_voucher_sales_commission_range"),
        ),
        _fk("voucher_sales", "voucher_id", "vouchers", "RESTRICT"),
        _fk("voucher_sales", "batch_id", "voucher_batches", "RESTRICT"),
        _fk("voucher_sales", "reseller_id", "resellers", "RESTRICT"),
        _fk("voucher_sales", "payment_id", "payments", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_sales")),
        sa.UniqueConstraint("voucher_id", name=op.f("uq_voucher_sales_voucher_id")),
    )
    op.create_index(op.f("ix_voucher_sales_batch_id"), "voucher_sales", ["batch_id"])
    op.create_index(op.f("ix_voucher_sales_reseller_id"), "voucher_sales", ["reseller_id"])
    op.create_index("ix_voucher_sales_sold_at", "voucher_sales", ["sold_at"])
    op.execute(SALES_APPEND_ONLY_FUNCTION)
    for trigger in SALES_APPEND_ONLY_TRIGGERS:
        op.execute(trigger)

    op.create_table(
        "hotspot_purchases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("package_id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("mpesa_request_id", sa.BigInteger(), nullable=True),
        sa.Column("voucher_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=24), server_default="pending", nullable=False),
        sa.Column("failure", sa.String(length=300), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        _fk("hotspot_purchases", "package_id", "packages", "RESTRICT"),
        _fk("hotspot_purchases", "subscriber_id", "subscribers", "RESTRICT"),
        _fk("hotspot_purchases", "mpesa_request_id", "mpesa_requests", "RESTRICT"),
        _fk("hotspot_purchases", "voucher_id", "vouchers", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_purchases")),
        sa.UniqueConstraint("token", name=op.f("uq_hotspot_purchases_token")),
        sa.UniqueConstraint("mpesa_request_id", name=op.f("uq_hotspot_purchases_mpesa_request_id")),
    )

    op.create_table(
        "portal_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), server_default="", nullable=False),
        sa.Column("welcome", sa.String(length=500), server_default="", nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=40), nullable=True),
        sa.Column("primary_colour", sa.String(length=7), server_default="#0b6e4f", nullable=False),
        sa.Column("accent_colour", sa.String(length=7), server_default="#f2a541", nullable=False),
        sa.Column("support_phone", sa.String(length=16), nullable=True),
        sa.Column("default_language", sa.String(length=2), server_default="en", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_portal_settings_single_row")),
        sa.CheckConstraint(
            "primary_colour ~ '^#[0-9a-fA-F]{6}$'",
            name=op.f("ck_portal_settings_primary_colour_hex"),
        ),
        sa.CheckConstraint(
            "accent_colour ~ '^#[0-9a-fA-F]{6}$'", name=op.f("ck_portal_settings_accent_colour_hex")
        ),
        sa.CheckConstraint(
            "default_language IN ('en', 'sw')", name=op.f("ck_portal_settings_language_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_settings")),
    )


def downgrade() -> None:
    op.drop_table("portal_settings")
    op.drop_table("hotspot_purchases")
    op.execute("DROP TRIGGER voucher_sales_no_truncate ON voucher_sales")
    op.execute("DROP TRIGGER voucher_sales_append_only ON voucher_sales")
    op.execute("DROP FUNCTION voucher_sales_append_only()")
    op.drop_table("voucher_sales")
    op.drop_table("vouchers")
    op.drop_table("voucher_batches")
    op.drop_constraint(op.f("ck_packages_shared_users_range"), "packages", type_="check")
    op.drop_column("packages", "sold_on_portal")
    op.drop_column("packages", "shared_users")
