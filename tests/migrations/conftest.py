"""A database of its own for each runner test: `migrate` works on every tenant of a
database, so counts and sabotaged tenants must not meet the other tests' tenants."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.tenant_admin import CreatedTenant, create_tenant
from sqlalchemy import Engine, text

BASE_DOMAIN = "kiunga.test"
_numbers = itertools.count(1)


@dataclass
class ScratchDatabase:
    url: str
    engine: Engine

    def make_tenant(self, slug: str | None = None, **kwargs) -> CreatedTenant:
        slug = slug or f"isp-{next(_numbers)}"
        kwargs.setdefault("name", f"ISP {slug}")
        kwargs.setdefault("owner_email", "owner@isps.example")  # one account: no hash each
        kwargs.setdefault("owner_password", "correct horse battery")
        return create_tenant(self.engine, slug=slug, base_domain=BASE_DOMAIN, **kwargs)

    def execute(self, sql: str, **params) -> list[tuple]:
        with self.engine.begin() as connection:
            result = connection.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []

    def versions(self, schema: str) -> set[str]:
        return {
            row[0] for row in self.execute(f'SELECT version_num FROM "{schema}".alembic_version')
        }


@pytest.fixture
def scratch(fresh_database):
    with fresh_database("kiunga_scratch") as url:
        engine = sync_engine(url)
        yield ScratchDatabase(url, engine)
        engine.dispose()
