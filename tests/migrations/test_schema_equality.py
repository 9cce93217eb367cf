"""A tenant made by `create_tenant` is exactly a schema upgraded revision by revision.

This is the proof that creating a tenant and migrating an old one give the same schema; any
fast path for tenant creation (a template clone, create_all + stamp) must keep it passing.
The catalog is compared as PostgreSQL sees it, with the schema name normalised away.
"""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from kiunga.channels.models import metadata
from kiunga.platform.migrate import tenant_revisions_in_order, upgrade_tenant_schema
from kiunga.platform.tenant_schema import replay_script, replay_used
from sqlalchemy import Connection, text

CATALOG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions::text, c.relacl::text,
               obj_description(c.oid, 'pg_class')
        FROM pg_class c WHERE c.relnamespace = CAST(:schema AS regnamespace)
    """,
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, udt_schema, udt_name,
               character_maximum_length, numeric_precision, numeric_scale, datetime_precision,
               is_nullable, column_default, is_identity, identity_generation, identity_start,
               identity_increment, identity_minimum, identity_maximum, identity_cycle,
               is_generated, generation_expression, collation_name
        FROM information_schema.columns WHERE table_schema = :schema
    """,
    "column_comments": """
        SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = CAST(:schema AS regnamespace) AND a.attnum > 0
          AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NOT NULL
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable,
               k.condeferred, k.convalidated
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.connamespace = CAST(:schema AS regnamespace)
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value,
               increment_by, cycle, cache_size
        FROM pg_sequences WHERE schemaname = :schema
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:schema AS regnamespace) AND NOT t.tgisinternal
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc p WHERE p.pronamespace = CAST(:schema AS regnamespace)
    """,
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = :schema",
    "types": """
        SELECT t.typname, t.typtype,
               array(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                     ORDER BY e.enumsortorder)::text
        FROM pg_type t WHERE t.typnamespace = CAST(:schema AS regnamespace)
          AND t.typtype IN ('e', 'd', 'c', 'r')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
    """,
    "policies": """
        SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = :schema
    """,
}


def catalog(connection: Connection, schema: str) -> dict[str, list[tuple]]:
    """Everything PostgreSQL knows about the schema's objects, with its name replaced."""
    own_name = re.compile(rf'"?\b{re.escape(schema)}\b"?')

    def normalise(value):
        return own_name.sub("<tenant>", value) if isinstance(value, str) else value

    dump = {}
    for kind, query in CATALOG_QUERIES.items():
        rows = connection.execute(text(query), {"schema": schema})
        dump[kind] = sorted((tuple(normalise(v) for v in row) for row in rows), key=repr)
    dump["alembic_version"] = sorted(
        row[0]
        for row in connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version'))
    )
    return dump


def upgrade_step_by_step(engine, schema: str) -> None:
    """From an empty schema, one revision per transaction, as years of deploys would."""
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    for revision in tenant_revisions_in_order():
        with engine.begin() as connection:
            upgrade_tenant_schema(connection, schema, revision)


def test_created_tenant_equals_a_schema_upgraded_revision_by_revision(scratch):
    # The first creation in a process may run Alembic; the second replays its recording.
    created = [scratch.make_tenant("fresh"), scratch.make_tenant("replayed")]
    assert replay_used()
    upgrade_step_by_step(scratch.engine, "t_upgraded")
    with scratch.engine.connect() as connection:
        upgraded = catalog(connection, "t_upgraded")
        for tenant in created:
            fresh = catalog(connection, tenant.schema)
            assert fresh["relations"] and fresh["columns"] and fresh["functions"]
            for kind in fresh:
                assert fresh[kind] == upgraded[kind], (tenant.slug, kind)


@pytest.mark.parametrize(
    "statement, parameters",
    [
        ("INSERT INTO packages (name) VALUES (%(name)s)", {"name": "x"}),
        ("SELECT value FROM platform.settings", {}),
        ('CREATE VIEW v AS SELECT 1 FROM "t_recorded".packages', {}),
    ],
    ids=["parameters", "a query", "its own schema"],
)
def test_a_recording_that_could_differ_per_schema_is_never_replayed(statement, parameters):
    recorded = [
        ('CREATE SCHEMA IF NOT EXISTS "t_recorded"', {}),
        ("SELECT set_config('search_path', %(s)s, true)", {"s": "t_recorded"}),
        ("CREATE TABLE packages (name TEXT)", {}),
        (statement, parameters),
    ]
    assert replay_script(recorded[:3], "t_recorded") == "CREATE TABLE packages (name TEXT)"
    assert replay_script(recorded, "t_recorded") is None


def test_the_comparison_sees_a_missing_revision(scratch):
    # Guards the test above against comparing two empty dumps.
    revisions = tenant_revisions_in_order()
    head = scratch.make_tenant("at-head")
    behind = scratch.make_tenant("behind", target_revision=revisions[-2])
    with scratch.engine.connect() as connection:
        assert catalog(connection, head.schema) != catalog(connection, behind.schema)


def test_tenant_models_match_the_migrations(scratch):
    """What autogenerate would write for a tenant at head: nothing."""
    created = scratch.make_tenant("models")
    with scratch.engine.connect() as connection:
        # The tenant's schema as the default, for this transaction only.
        connection.execute(
            text("SELECT set_config('search_path', :s, true)"), {"s": created.schema}
        )
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, parents: name != "alembic_version",
            },
        )
        assert compare_metadata(context, metadata) == []
