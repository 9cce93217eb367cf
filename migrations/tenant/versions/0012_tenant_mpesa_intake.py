"""tenant M-Pesa intake: how many times a stored callback failed to be processed (it is
retried a bounded number of times, then left flagged), and room for a hashed MSISDN

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "mpesa_callbacks",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    # Safaricom sends a C2B payer's number as a SHA-256 in hex: 64 characters.
    op.alter_column(
        "mpesa_transactions",
        "msisdn",
        existing_type=sa.String(length=20),
        type_=sa.String(length=64),
        existing_nullable=True,
    )


def downgrade() -> None:
    op.alter_column(
        "mpesa_transactions",
        "msisdn",
        existing_type=sa.String(length=64),
        type_=sa.String(length=20),
        existing_nullable=True,
        postgresql_using="left(msisdn, 20)",
    )
    op.drop_column("mpesa_callbacks", "attempts")
