"""tenant portal in Swahili: the portal's welcome text and each package's name in Swahili
(empty: the portal shows the English text)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "portal_settings",
        sa.Column("welcome_sw", sa.String(length=500), server_default="", nullable=False),
    )
    op.add_column(
        "packages",
        sa.Column("name_sw", sa.String(length=120), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("packages", "name_sw")
    op.drop_column("portal_settings", "welcome_sw")
