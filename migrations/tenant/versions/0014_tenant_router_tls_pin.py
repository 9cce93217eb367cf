"""tenant router TLS pin: the api-ssl certificate pinned on first use, and the one last
refused for not matching it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("routers", sa.Column("tls_fingerprint", sa.String(length=64)))
    op.add_column("routers", sa.Column("tls_pinned_at", sa.DateTime(timezone=True)))
    op.add_column("routers", sa.Column("tls_refused_fingerprint", sa.String(length=64)))
    op.add_column("routers", sa.Column("tls_refused_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("routers", "tls_refused_at")
    op.drop_column("routers", "tls_refused_fingerprint")
    op.drop_column("routers", "tls_pinned_at")
    op.drop_column("routers", "tls_fingerprint")
