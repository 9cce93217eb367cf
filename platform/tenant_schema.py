"""A new tenant's schema at head, from a recording of the upgrade instead of Alembic each time.

Running every tenant migration through Alembic costs about half a second of Python and a
hundred round trips per new ISP. The tenant migrations write unqualified names (the search
path is set per transaction), so the statements an upgrade from empty to head sends are the
same for every schema: the first creation in a process runs Alembic and records them, later
ones send the recording in one round trip and write the version table themselves.

A recording that could differ from schema to schema is never replayed: a statement with
parameters, one that names its own schema, or a query other than Alembic's look at the
catalog (a migration that branched on data) makes every creation run Alembic. The schema
equality test compares a replayed schema with one upgraded revision by revision.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from kiunga.platform.db.naming import validate_schema
from kiunga.platform.migrate import tenant_heads, upgrade_tenant_schema
from sqlalchemy import Connection, event, text

# What Alembic creates for its version table (alembic.runtime.migration), schema-qualified.
VERSION_TABLE_DDL = (
    'CREATE TABLE "{schema}".alembic_version (version_num VARCHAR(32) NOT NULL, '
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)


@dataclass(frozen=True)
class SchemaRecipe:
    heads: frozenset[str]
    script: str | None  # None: this upgrade cannot be replayed; run Alembic


_recipe: SchemaRecipe | None = None
_recording = threading.Lock()


def create_tenant_schema(connection: Connection, schema: str) -> None:
    """Bring the new, empty `schema` to the tenant heads inside the caller's transaction."""
    global _recipe
    schema = validate_schema(schema)
    heads = tenant_heads()
    recipe = _recipe
    if recipe is None or recipe.heads != heads:
        with _recording:
            statements = _upgrade_recording(connection, schema)
            _recipe = SchemaRecipe(heads, replay_script(statements, schema))
        return
    if recipe.script is None:
        upgrade_tenant_schema(connection, schema)
        return
    _replay(connection, schema, recipe)


def replay_used() -> bool:
    """Whether creations in this process replay a recording (for tests and benchmarks)."""
    return _recipe is not None and _recipe.script is not None


def _upgrade_recording(connection: Connection, schema: str) -> list[tuple[str, object]]:
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    try:
        upgrade_tenant_schema(connection, schema)
    finally:
        event.remove(connection, "before_cursor_execute", record)
    return statements


def replay_script(statements: list[tuple[str, object]], schema: str) -> str | None:
    """The recorded migration statements as one script, or None when they cannot be replayed."""
    own_name = re.compile(rf"\b{re.escape(schema)}\b")
    kept: list[str] = []
    for statement, parameters in statements:
        stripped = statement.lstrip()
        if _is_alembic_bookkeeping(stripped):
            continue
        if parameters:
            return None
        if stripped[:6].upper() == "SELECT" or own_name.search(statement):
            return None
        # SQLAlchemy doubles '%' for the driver whenever it passes parameters, even none;
        # the script goes to the driver without any, so the driver will not undo it.
        kept.append(statement.replace("%%", "%") if parameters is not None else statement)
    return ";\n".join(kept)


def _is_alembic_bookkeeping(statement: str) -> bool:
    """Statements Alembic sends around the migrations: the schema, the search path, its look
    at the catalog and the version table (written by `_replay` itself)."""
    upper = statement[:40].upper()
    return (
        upper.startswith("CREATE SCHEMA IF NOT EXISTS")
        or upper.startswith("SELECT SET_CONFIG('SEARCH_PATH'")
        or upper.startswith("SELECT PG_CATALOG.")
        or "alembic_version" in statement
    )


def _replay(connection: Connection, schema: str, recipe: SchemaRecipe) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    connection.execute(text("SELECT set_config('search_path', :s, true)"), {"s": schema})
    driver = connection.connection.dbapi_connection
    with driver.cursor() as cursor:
        # No parameters: the driver sends the whole script as one simple query.
        cursor.execute(recipe.script)
        cursor.execute(VERSION_TABLE_DDL.format(schema=schema))
        for head in sorted(recipe.heads):
            cursor.execute(
                f'INSERT INTO "{schema}".alembic_version (version_num) VALUES (%s)', (head,)
            )
