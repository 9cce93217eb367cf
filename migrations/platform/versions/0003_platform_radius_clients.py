"""platform: RADIUS clients (a router's source address → tenant and router)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "radius_clients",
        sa.Column("source_address", sa.String(length=45), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("router_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_radius_clients_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_address", name=op.f("pk_radius_clients")),
        sa.UniqueConstraint(
            "tenant_id", "router_id", name=op.f("uq_radius_clients_tenant_id_router_id")
        ),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("radius_clients", schema="platform")
