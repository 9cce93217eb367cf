"""tenant services: subscribers' services and their lifecycle

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 04:10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SERVICE_TYPES = ("pppoe", "hotspot", "static")
SERVICE_STATUSES = ("pending", "active", "suspended", "expired", "terminated")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("package_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "service_type",
            sa.Enum(*SERVICE_TYPES, name="service_type", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.Column("static_ip", postgresql.INET(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(*SERVICE_STATUSES, name="service_status", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("auto_renew", sa.Boolean(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspension_reason", sa.String(length=20), nullable=True),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_soon_reminded_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_reminded_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "mac_address IS NULL OR mac_address ~ '^([0-9A-F]{2}:){5}[0-9A-F]{2}$'",
            name=op.f("ck_services_mac_format"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('active', 'suspended', 'expired') OR expires_at IS NOT NULL",
            name=op.f("ck_services_live_has_period"),
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
            name=op.f("fk_services_package_id_packages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_services_subscriber_id_subscribers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    for column in ("username", "static_ip"):
        op.create_index(
            f"uq_services_live_{column}",
            "services",
            [column],
            unique=True,
            postgresql_where=sa.text("status <> 'terminated'"),
        )
    op.create_index("ix_services_subscriber_id", "services", ["subscriber_id"], unique=False)
    op.create_index("ix_services_package_id", "services", ["package_id"], unique=False)
    op.create_index(
        "ix_services_live_expires_at",
        "services",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('active', 'suspended')"),
    )
    op.create_table(
        "billing_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("reminder_days_before", sa.Integer(), nullable=False),
        sa.Column("postpaid_due_days", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_billing_settings_single_row")),
        sa.CheckConstraint("grace_days >= 0", name=op.f("ck_billing_settings_grace_not_negative")),
        sa.CheckConstraint(
            "reminder_days_before >= 0", name=op.f("ck_billing_settings_reminder_not_negative")
        ),
        sa.CheckConstraint(
            "postpaid_due_days >= 0", name=op.f("ck_billing_settings_due_days_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_settings")),
    )


def downgrade() -> None:
    op.drop_table("billing_settings")
    op.drop_index(
        "ix_services_live_expires_at",
        table_name="services",
        postgresql_where=sa.text("status IN ('active', 'suspended')"),
    )
    op.drop_index("ix_services_package_id", table_name="services")
    op.drop_index("ix_services_subscriber_id", table_name="services")
    for column in ("username", "static_ip"):
        op.drop_index(f"uq_services_live_{column}", table_name="services")
    op.drop_table("services")
