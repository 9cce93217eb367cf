"""tenant portal: a first-time buyer's subscriber is made only once M-Pesa says paid, so an
STK request and a portal purchase may name no subscriber yet; the purchase keeps the
language the buyer chose until then

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 20:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("mpesa_requests", "subscriber_id", existing_type=sa.BigInteger(), nullable=True)
    op.alter_column(
        "hotspot_purchases", "subscriber_id", existing_type=sa.BigInteger(), nullable=True
    )
    op.add_column("hotspot_purchases", sa.Column("language", sa.String(length=2)))


def downgrade() -> None:
    op.drop_column("hotspot_purchases", "language")
    op.alter_column(
        "hotspot_purchases", "subscriber_id", existing_type=sa.BigInteger(), nullable=False
    )
    op.alter_column(
        "mpesa_requests", "subscriber_id", existing_type=sa.BigInteger(), nullable=False
    )
