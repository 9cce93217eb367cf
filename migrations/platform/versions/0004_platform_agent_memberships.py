"""platform: a membership may name the agent's reseller record (the voucher agent role)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenant_memberships",
        sa.Column("reseller_id", sa.BigInteger(), nullable=True),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_column("tenant_memberships", "reseller_id", schema="platform")
