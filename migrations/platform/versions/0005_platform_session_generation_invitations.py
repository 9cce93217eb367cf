"""platform: a session generation per staff account (sign-out ends every copy of a session
cookie), and invitations to work at an ISP (opened by a link, accepted with a password)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 17:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "staff_accounts",
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
        schema="platform",
    )
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner",
                "admin",
                "finance",
                "support",
                "technician",
                "agent",
                name="invitation_role",
                native_enum=False,
                length=20,
                schema="platform",
            ),
            nullable=False,
        ),
        sa.Column("reseller_id", sa.BigInteger(), nullable=True),
        sa.Column("invited_by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "email = lower(email)", name=op.f("ck_staff_invitations_invitation_email_lowercase")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_staff_id"],
            ["platform.staff_accounts.id"],
            name=op.f("fk_staff_invitations_invited_by_staff_id_staff_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_staff_invitations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_invitations_token_hash")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_staff_invitations_tenant_id"),
        "staff_invitations",
        ["tenant_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_staff_invitations_tenant_id"), table_name="staff_invitations", schema="platform"
    )
    op.drop_table("staff_invitations", schema="platform")
    op.drop_column("staff_accounts", "session_generation", schema="platform")
