"""Declarative bases: one for the shared `platform` schema, one for every tenant's schema.

Tenant tables are declared with no schema; a tenant session maps that to the tenant's
schema with `schema_translate_map`. Anything that escapes the map resolves against the
connection's search_path, which is `platform` only, and fails instead of touching an ISP.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase

PLATFORM_SCHEMA = "platform"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class PlatformBase(DeclarativeBase):
    metadata = MetaData(schema=PLATFORM_SCHEMA, naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}
