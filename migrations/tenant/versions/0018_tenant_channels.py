"""tenant channels: the ISP's channel settings (Africa's Talking, Twilio, USSD code), the
message log that is also the outbound queue, every provider callback as it arrived,
templates, what each phone chose, and campaigns

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "channel_callbacks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("provider_key", sa.String(length=200), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source_address", sa.String(length=45), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_callbacks")),
        sa.UniqueConstraint("kind", "provider_key", name="uq_channel_callbacks_key"),
    )
    op.create_index(
        "ix_channel_callbacks_received_at", "channel_callbacks", ["received_at"], unique=False
    )
    op.create_table(
        "channel_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at_username", sa.String(length=100), nullable=True),
        sa.Column("at_api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("at_sender_id", sa.String(length=11), nullable=True),
        sa.Column("at_shortcode", sa.String(length=12), nullable=True),
        sa.Column("at_base_url", sa.String(length=200), nullable=True),
        sa.Column("ussd_service_code", sa.String(length=40), nullable=True),
        sa.Column("ussd_extension", sa.String(length=6), nullable=True),
        sa.Column("twilio_account_sid", sa.String(length=34), nullable=True),
        sa.Column("twilio_auth_token_encrypted", sa.Text(), nullable=True),
        sa.Column("whatsapp_from", sa.String(length=16), nullable=True),
        sa.Column("twilio_base_url", sa.String(length=200), nullable=True),
        sa.Column("whatsapp_templates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("callback_token_encrypted", sa.Text(), nullable=True),
        sa.Column(
            "send_rate_per_second", sa.SmallInteger(), server_default=sa.text("20"), nullable=False
        ),
        sa.Column("quiet_hours_start", sa.Time(), nullable=True),
        sa.Column("quiet_hours_end", sa.Time(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_channel_settings_single_row")),
        sa.CheckConstraint(
            "send_rate_per_second BETWEEN 1 AND 1000",
            name=op.f("ck_channel_settings_send_rate_bounded"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_settings")),
    )
    op.create_table(
        "message_templates",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kind", "language", name=op.f("pk_message_templates")),
    )
    op.create_table(
        "channel_contacts",
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column(
            "marketing_opt_out", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "preferred_channel",
            sa.Enum(
                "sms", "whatsapp", "ussd", name="message_channel", native_enum=False, length=24
            ),
            nullable=True,
        ),
        sa.Column("chosen_subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("whatsapp_last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_channel_contacts_phone_e164")
        ),
        sa.ForeignKeyConstraint(
            ["chosen_subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_channel_contacts_chosen_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_channel_contacts")),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("in", "out", name="message_direction", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "sms", "whatsapp", "ussd", name="message_channel", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "in_doubt",
                "sent",
                "delivered",
                "read",
                "failed",
                "undelivered",
                "cancelled",
                "received",
                name="message_status",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("link_id", sa.String(length=64), nullable=True),
        sa.Column("network_code", sa.String(length=8), nullable=True),
        sa.Column("segments", sa.SmallInteger(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=True),
        sa.Column("cost_currency", sa.String(length=3), nullable=True),
        sa.Column("template_sid", sa.String(length=64), nullable=True),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("fallback_of", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "send_after",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.String(length=100), nullable=True),
        sa.Column("retry_count", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{6,14}$'", name=op.f("ck_messages_phone_e164")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_messages_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fallback_of"], ["messages.id"], name=op.f("fk_messages_fallback_of_messages")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_messages_subscriber_id_subscribers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_messages_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
    )
    op.create_index("ix_messages_created_at", "messages", ["created_at"], unique=False)
    op.create_index("ix_messages_phone", "messages", ["phone", "id"], unique=False)
    op.create_index("ix_messages_subscriber", "messages", ["subscriber_id", "id"], unique=False)
    op.create_index(
        "ix_messages_waiting",
        "messages",
        ["send_after", "id"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'sending', 'in_doubt')"),
    )
    op.create_index(
        "uq_messages_provider_id",
        "messages",
        ["channel", "direction", "provider_id"],
        unique=True,
        postgresql_where=sa.text("provider_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("channel_contacts")
    op.drop_table("message_templates")
    op.drop_table("channel_settings")
    op.drop_table("channel_callbacks")
    op.drop_table("campaigns")
