"""tenant hotspot: a voucher's validity runs from its first accepted login (vouchers learn
when that was); RADIUS finds a login its cache has not heard of yet by its lower-cased name

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vouchers", sa.Column("first_login_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_services_live_login",
        "services",
        [sa.text("lower(username)")],
        unique=False,
        postgresql_where=sa.text("status <> 'terminated'"),
    )


def downgrade() -> None:
    op.drop_index("ix_services_live_login", table_name="services")
    op.drop_column("vouchers", "first_login_at")
