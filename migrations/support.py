"""Helpers shared by the two Alembic environments."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from kiunga.platform.db.base import PLATFORM_SCHEMA
from kiunga.platform.db.naming import schema_for_slug, validate_schema
from sqlalchemy import text

MIGRATIONS_DIR = Path(__file__).resolve().parent
PLATFORM_TRACK = "platform"
TENANT_TRACK = "tenant"


def alembic_config(track: str, *, connection=None, tenant_schema: str | None = None) -> Config:
    """An Alembic config for one track, built in code so no ini file is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR / track))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    config.attributes["tenant_schema"] = tenant_schema
    return config


@contextmanager
def connection_for(config: Config):
    """The connection handed in by the runner, or a new one from the settings."""
    given = config.attributes.get("connection")
    if given is not None:
        yield given
        return
    from kiunga.platform.db.engine import sync_engine
    from kiunga.platform.devservices import ensure_services
    from kiunga.platform.settings import get_settings

    engine = sync_engine(ensure_services(get_settings()).database_url)
    try:
        with engine.connect() as connection:
            yield connection
            connection.commit()
    finally:
        engine.dispose()


def tenant_schema_from(context) -> str:
    schema = context.config.attributes.get("tenant_schema")
    if schema is None:
        slug = context.get_x_argument(as_dictionary=True).get("tenant")
        if not slug:
            raise SystemExit("name the tenant: alembic -n tenant -x tenant=<slug> …")
        schema = schema_for_slug(slug)
    return validate_schema(schema)


def platform_preamble(connection) -> None:
    """Create the shared schema and make it the only search path of our database role, so
    that a tenant query that escaped schema translation fails instead of reading an ISP."""
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{PLATFORM_SCHEMA}"'))
    role = connection.execute(text("SELECT current_user")).scalar_one()
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    connection.execute(
        text(
            f'ALTER ROLE "{_ident(role)}" IN DATABASE "{_ident(database)}" '
            f"SET search_path = {PLATFORM_SCHEMA}"
        )
    )


def _ident(name: str) -> str:
    if '"' in name or "\x00" in name:
        raise ValueError(f"unusable identifier {name!r}")
    return name
