"""tenant portal hotspot hosts: the names the ISP's hotspots log in at, the only hosts
(besides private addresses and the routers' addresses) the portal posts a code to

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "portal_settings",
        sa.Column("hotspot_hosts", sa.String(length=500), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("portal_settings", "hotspot_hosts")
