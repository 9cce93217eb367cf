"""platform: USSD service codes (and extensions on a shared code) → tenant

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ussd_codes",
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("extension", sa.String(length=6), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_ussd_codes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_code", "extension", name=op.f("pk_ussd_codes")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_ussd_codes_tenant_id")),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("ussd_codes", schema="platform")
