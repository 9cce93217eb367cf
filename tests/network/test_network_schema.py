"""platform.radius_clients as the platform migration makes it is what the model declares
(the tenant's routers are compared with the other tenant tables in tests/migrations)."""

from __future__ import annotations

from kiunga.platform.db.base import PLATFORM_SCHEMA
from kiunga.platform.models import RadiusClientRoute
from sqlalchemy import inspect


def test_radius_clients_model_matches_the_platform_migration(engine):
    table = RadiusClientRoute.__table__
    with engine.connect() as connection:
        found = inspect(connection)
        columns = {
            column["name"]: (column["type"].compile(engine.dialect), column["nullable"])
            for column in found.get_columns("radius_clients", schema=PLATFORM_SCHEMA)
        }
        primary_key = found.get_pk_constraint("radius_clients", schema=PLATFORM_SCHEMA)
        uniques = found.get_unique_constraints("radius_clients", schema=PLATFORM_SCHEMA)
        foreign_keys = found.get_foreign_keys("radius_clients", schema=PLATFORM_SCHEMA)
    declared = {
        column.name: (str(column.type.compile(engine.dialect)), column.nullable)
        for column in table.columns
    }
    assert columns == declared
    assert primary_key["constrained_columns"] == ["source_address"]
    assert [u["column_names"] for u in uniques] == [["tenant_id", "router_id"]]
    references = [(f["constrained_columns"], f["referred_table"]) for f in foreign_keys]
    assert references == [(["tenant_id"], "tenants")]
    assert foreign_keys[0]["options"] == {"ondelete": "CASCADE"}
    names = {primary_key["name"], *(u["name"] for u in uniques), foreign_keys[0]["name"]}
    assert names == {
        "pk_radius_clients",
        "uq_radius_clients_tenant_id_router_id",
        "fk_radius_clients_tenant_id_tenants",
    }
