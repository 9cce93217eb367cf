"""Alembic environment for one tenant's schema.

`kiunga migrate` passes the connection and the schema; by hand:
`alembic -n tenant -x tenant=<slug> upgrade head`.
"""

from alembic import context
from kiunga.channels.models import metadata
from kiunga.migrations.support import connection_for, tenant_schema_from
from sqlalchemy import text


def include_name(name, type_, parent_names):
    # The version table lives beside the tenant's tables; it is Alembic's, not ours.
    return not (type_ == "table" and name == "alembic_version")


def run(connection, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        # Per transaction only: a pooled connection must never keep a tenant's path.
        connection.execute(text("SELECT set_config('search_path', :s, true)"), {"s": schema})
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
schema = tenant_schema_from(context)
with connection_for(context.config) as connection:
    run(connection, schema)
