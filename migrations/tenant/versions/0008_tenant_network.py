"""tenant network: routers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "routers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=True),
        sa.Column("address", sa.String(length=253), nullable=False),
        sa.Column("api_port", sa.Integer(), nullable=False),
        sa.Column("use_tls", sa.Boolean(), nullable=False),
        sa.Column("api_username", sa.String(length=100), nullable=True),
        sa.Column("api_password_encrypted", sa.Text(), nullable=True),
        sa.Column(
            "mode",
            sa.Enum("api", "radius", name="router_mode", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("radius_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("radius_source_address", sa.String(length=45), nullable=True),
        sa.Column("coa_port", sa.Integer(), nullable=False),
        sa.Column("require_message_authenticator", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity", sa.String(length=255), nullable=True),
        sa.Column("routeros_version", sa.String(length=64), nullable=True),
        sa.Column("uptime_seconds", sa.BigInteger(), nullable=True),
        sa.Column("cpu_load", sa.Integer(), nullable=True),
        sa.Column("free_memory", sa.BigInteger(), nullable=True),
        sa.Column("total_memory", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("api_port BETWEEN 1 AND 65535", name=op.f("ck_routers_api_port_range")),
        sa.CheckConstraint("coa_port BETWEEN 1 AND 65535", name=op.f("ck_routers_coa_port_range")),
        sa.CheckConstraint(
            "mode <> 'radius' OR radius_secret_encrypted IS NOT NULL",
            name=op.f("ck_routers_radius_needs_secret"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_routers_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
        sa.UniqueConstraint("name", name=op.f("uq_routers_name")),
    )
    op.create_index("ix_routers_site_id", "routers", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_routers_site_id", table_name="routers")
    op.drop_table("routers")
