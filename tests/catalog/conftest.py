"""Catalog fixtures: a client of a new ISP's API holding the package scopes."""

import pytest

PACKAGE_SCOPES = ("packages:read", "packages:write")


@pytest.fixture
def client(make_tenant, make_key, client_for):
    tenant = make_tenant()
    client = client_for(tenant.host)
    client.headers.update({"Authorization": f"Bearer {make_key(tenant.id, scopes=PACKAGE_SCOPES)}"})
    return client
