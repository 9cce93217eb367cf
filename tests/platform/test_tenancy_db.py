"""Tenant sessions see exactly one schema; anything outside one fails closed."""

import pytest
from kiunga.tenants.sites.models import Site
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError


async def test_identical_ids_stay_in_their_own_tenant(database, make_tenant):
    first, second = make_tenant(), make_tenant()
    for tenant, name in ((first, "Kasarani"), (second, "Rongai")):
        async with database.tenant_session(tenant.schema) as session, session.begin():
            session.add(Site(name=name))
    for tenant, name in ((first, "Kasarani"), (second, "Rongai")):
        async with database.tenant_session(tenant.schema) as session:
            sites = (await session.scalars(select(Site))).all()
            assert [(s.id, s.name) for s in sites] == [(1, name)]


async def test_tenant_query_outside_a_tenant_session_fails(database, make_tenant):
    make_tenant()
    async with database.platform_session() as session:
        with pytest.raises(ProgrammingError, match="does not exist"):
            await session.scalars(select(Site))


async def test_search_path_of_the_application_role_is_platform_only(database):
    async with database.engine.connect() as connection:
        assert (await connection.execute(text("SHOW search_path"))).scalar() == "platform"


def test_invalid_schema_names_never_reach_sql(database):
    for bad in ["public", "platform", "t_x; drop table y", "T_UPPER", "pg_catalog", ""]:
        with pytest.raises(ValueError):
            database.tenant_engine(bad)
