"""platform: webhook routes (secret path token → tenant)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_routes",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_webhook_routes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_webhook_routes")),
        sa.UniqueConstraint(
            "tenant_id", "provider", name=op.f("uq_webhook_routes_tenant_id_provider")
        ),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("webhook_routes", schema="platform")
