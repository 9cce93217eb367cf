"""The outbox tables a tenant gets from its migrations are exactly the models'."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from kiunga.channels.models import metadata
from sqlalchemy import text

JOB_TABLES = {"outbox_events", "outbox_deliveries", "failed_jobs"}


def _touches_job_tables(diff) -> bool:
    return any(f"'{table}'" in repr(diff) for table in JOB_TABLES)


def test_migrated_outbox_tables_match_the_models(engine, make_tenant):
    tenant = make_tenant()
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('search_path', :s, true)"), {"s": tenant.schema})
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, parents: (
                    not (type_ == "table" and name == "alembic_version")
                ),
            },
        )
        diffs = compare_metadata(context, metadata)
    assert [d for d in diffs if _touches_job_tables(d)] == []
