"""Alembic environment for the shared `platform` schema.

Run by `kiunga migrate`, or by hand: `alembic -n platform upgrade head`.
"""

from alembic import context
from kiunga.migrations.support import connection_for, platform_preamble
from kiunga.platform import models  # noqa: F401  (registers the platform tables)
from kiunga.platform.db.base import PLATFORM_SCHEMA, PlatformBase
from sqlalchemy import text


def include_name(name, type_, parent_names):
    if type_ == "schema":
        return name == PLATFORM_SCHEMA
    return True


def run(connection) -> None:
    platform_preamble(connection)
    context.configure(
        connection=connection,
        target_metadata=PlatformBase.metadata,
        version_table_schema=PLATFORM_SCHEMA,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        connection.execute(
            text("SELECT set_config('search_path', :s, true)"), {"s": PLATFORM_SCHEMA}
        )
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
with connection_for(context.config) as connection:
    run(connection)
