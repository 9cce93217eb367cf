"""tenant RADIUS: sessions, daily and per-period usage, CoA/Disconnect attempts, and the
NOTIFY that keeps the RADIUS server's subscriber cache fresh

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Must match kiunga.tenants.network.radius.cache.USERS_CHANNEL.
CHANNEL = "kiunga_radius_users"
# Above this many rows one statement notifies the schema alone: the whole ISP is reloaded
# (a NOTIFY payload holds at most 8000 bytes).
MAX_IDS = 400


def upgrade() -> None:
    op.create_table(
        "radius_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("router_id", sa.BigInteger(), nullable=True),
        sa.Column("acct_session_id", sa.String(length=253), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=True),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("nas_address", sa.String(length=45), nullable=True),
        sa.Column("framed_ip", sa.String(length=45), nullable=True),
        sa.Column("calling_station_id", sa.String(length=253), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_time", sa.BigInteger(), nullable=True),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("terminate_cause", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["routers.id"],
            name=op.f("fk_radius_sessions_router_id_routers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_radius_sessions_service_id_services"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_radius_sessions")),
        sa.UniqueConstraint(
            "router_id",
            "acct_session_id",
            name=op.f("uq_radius_sessions_router_id_acct_session_id"),
        ),
    )
    op.create_index(
        "ix_radius_sessions_open_service_id",
        "radius_sessions",
        ["service_id"],
        postgresql_where=sa.text("stopped_at IS NULL"),
    )
    op.create_index(
        "ix_radius_sessions_open_updated_at",
        "radius_sessions",
        ["updated_at"],
        postgresql_where=sa.text("stopped_at IS NULL"),
    )
    op.create_table(
        "usage_daily",
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("subscriber_id", sa.BigInteger(), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_usage_daily_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "day", name=op.f("pk_usage_daily")),
    )
    op.create_index("ix_usage_daily_subscriber_id", "usage_daily", ["subscriber_id"])
    op.create_table(
        "usage_periods",
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("input_octets", sa.BigInteger(), nullable=False),
        sa.Column("output_octets", sa.BigInteger(), nullable=False),
        sa.Column("cap_reached_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_usage_periods_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "period_start", name=op.f("pk_usage_periods")),
    )
    op.create_table(
        "dynauth_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.Column("router_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error_cause", sa.Integer(), nullable=True),
        sa.Column("packets", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_dynauth_attempts_service_id_services"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["radius_sessions.id"],
            name=op.f("fk_dynauth_attempts_session_id_radius_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["routers.id"],
            name=op.f("fk_dynauth_attempts_router_id_routers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dynauth_attempts")),
    )
    op.create_index("ix_dynauth_attempts_service_id", "dynauth_attempts", ["service_id"])

    # Statement-level triggers (one NOTIFY per statement, however many rows): any change to
    # a service, by whatever code path, reaches the RADIUS server's cache once committed.
    # The function lives in the tenant's schema (first on the migration's search_path).
    op.execute(
        f"""
        CREATE FUNCTION radius_notify_services() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            ids text;
            n bigint;
        BEGIN
            SELECT count(*), string_agg(id::text, ',') INTO n, ids
              FROM (SELECT id FROM changed LIMIT {MAX_IDS + 1}) AS first_rows;
            IF n = 0 THEN
                RETURN NULL;
            END IF;
            IF n > {MAX_IDS} THEN
                PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
            ELSE
                PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA || ':' || ids);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION radius_notify_tenant() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA);
            RETURN NULL;
        END $$
        """
    )
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER radius_services_{event.lower()} AFTER {event} ON services "
            f"REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION radius_notify_services()"
        )
    op.execute(
        "CREATE TRIGGER radius_packages_update AFTER UPDATE ON packages "
        "FOR EACH STATEMENT EXECUTE FUNCTION radius_notify_tenant()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER radius_packages_update ON packages")
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER radius_services_{event} ON services")
    op.execute("DROP FUNCTION radius_notify_tenant()")
    op.execute("DROP FUNCTION radius_notify_services()")
    op.drop_index("ix_dynauth_attempts_service_id", table_name="dynauth_attempts")
    op.drop_table("dynauth_attempts")
    op.drop_table("usage_periods")
    op.drop_index("ix_usage_daily_subscriber_id", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index("ix_radius_sessions_open_updated_at", table_name="radius_sessions")
    op.drop_index("ix_radius_sessions_open_service_id", table_name="radius_sessions")
    op.drop_table("radius_sessions")
