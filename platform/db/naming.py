"""Tenant slugs and the schema names derived from them, validated before they reach SQL."""

from __future__ import annotations

import re

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,29}[a-z0-9]$")
SCHEMA_PATTERN = re.compile(r"^t_[a-z][a-z0-9_]{1,29}[a-z0-9]$")
SCHEMA_PREFIX = "t_"

# Names that would collide with PostgreSQL's own schemas, our shared schema, or host names
# the platform itself answers on.
RESERVED_SLUGS = frozenset(
    {
        "platform",
        "public",
        "information_schema",
        "admin",
        "api",
        "www",
        "app",
        "static",
        "console",
        "docs",
        "mail",
        "status",
        "kiunga",
        "root",
        "postgres",
        "default",
        "test",
    }
)


class InvalidSlug(ValueError):
    """The slug cannot name a tenant; the message says why, in words for an operator."""


def validate_slug(slug: str) -> str:
    if not isinstance(slug, str) or not slug:
        raise InvalidSlug("slug is required")
    if slug != slug.lower():
        raise InvalidSlug("slug must be lowercase")
    if len(slug) < 3 or len(slug) > 31:
        raise InvalidSlug("slug must be 3 to 31 characters long")
    if slug in RESERVED_SLUGS or slug.startswith(("pg_", "pg-")):
        raise InvalidSlug(f"slug {slug!r} is reserved")
    if "--" in slug:
        raise InvalidSlug("slug must not contain two hyphens in a row")
    if not SLUG_PATTERN.match(slug):
        raise InvalidSlug(
            "slug must start with a letter, end with a letter or digit, and contain only "
            "lowercase letters, digits and hyphens"
        )
    return slug


def schema_for_slug(slug: str) -> str:
    return validate_schema(SCHEMA_PREFIX + validate_slug(slug).replace("-", "_"))


def validate_schema(schema: str) -> str:
    """Every schema name that reaches SQL text passes here first."""
    if not isinstance(schema, str) or not SCHEMA_PATTERN.match(schema):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return schema
