"""tenant tickets: support tickets and their message threads

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _text_enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


CHANNEL = ("web", "sms", "whatsapp", "ussd", "api")


def upgrade() -> None:
    # Ticket numbers come from document_sequences (revision 0004) under the name "ticket".
    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column(
            "category",
            _text_enum(
                "ticket_category", "connectivity", "billing", "installation", "relocation", "other"
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            _text_enum("ticket_priority", "low", "normal", "high", "urgent"),
            nullable=False,
        ),
        sa.Column(
            "status",
            _text_enum(
                "ticket_status",
                "open",
                "in_progress",
                "waiting_on_subscriber",
                "resolved",
                "closed",
            ),
            nullable=False,
        ),
        sa.Column("channel", _text_enum("ticket_channel", *CHANNEL), nullable=False),
        sa.Column("assignee_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_by", sa.String(length=260), nullable=False),
        sa.Column("opened_by_staff_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("number > 0", name=op.f("ck_tickets_number_positive")),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_tickets_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    op.create_index("ix_tickets_status_priority", "tickets", ["status", "priority"], unique=False)
    op.create_index("ix_tickets_assignee_staff_id", "tickets", ["assignee_staff_id"], unique=False)
    op.create_index("ix_tickets_subscriber_id", "tickets", ["subscriber_id"], unique=False)
    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "author_kind",
            _text_enum("ticket_author_kind", "staff", "subscriber", "system"),
            nullable=False,
        ),
        sa.Column("author_label", sa.String(length=260), nullable=False),
        sa.Column("author_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel", _text_enum("ticket_channel", *CHANNEL), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
    )
    op.create_index(
        op.f("ix_ticket_messages_ticket_id"), "ticket_messages", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_messages_ticket_id"), table_name="ticket_messages")
    op.drop_table("ticket_messages")
    op.drop_index("ix_tickets_subscriber_id", table_name="tickets")
    op.drop_index("ix_tickets_assignee_staff_id", table_name="tickets")
    op.drop_index("ix_tickets_status_priority", table_name="tickets")
    op.drop_table("tickets")
