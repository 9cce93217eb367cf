"""platform.radius_clients follows the routers in radius mode: created, moved, dropped and
removed with them in the same transaction; an address belongs to one router of one ISP;
the RADIUS server loads every client with its decrypted secret."""

from __future__ import annotations

from kiunga.platform.models import Tenant, TenantStatus
from kiunga.tenants.network.radius_clients import (
    load_client_directory,
    load_radius_client,
    load_radius_clients,
)
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from .conftest import api_router, radius_router


def platform_rows(engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT source_address, tenant_id, router_id FROM platform.radius_clients")
        )
        return {address: (tenant_id, router_id) for address, tenant_id, router_id in rows}


async def test_the_routing_row_follows_the_router(api, engine, tenant):
    made = await api.post("/api/v1/routers", json=radius_router("10.9.0.1"))
    assert made.status_code == 201, made.text
    router = made.json()
    assert router["radius_source_address"] == "10.9.0.1" and router["radius_secret_set"]
    assert platform_rows(engine).get("10.9.0.1") == (tenant.id, router["id"])
    path = f"/api/v1/routers/{router['id']}"

    moved = await api.patch(path, json={"radius_source_address": "100.64.3.7"})
    assert moved.status_code == 200 and moved.json()["radius_source_address"] == "100.64.3.7"
    rows = platform_rows(engine)
    assert rows.get("100.64.3.7") == (tenant.id, router["id"]) and "10.9.0.1" not in rows

    # Back to the default: the router's own address.
    await api.patch(path, json={"radius_source_address": None, "address": "10.9.0.2"})
    rows = platform_rows(engine)
    assert rows.get("10.9.0.2") == (tenant.id, router["id"]) and "100.64.3.7" not in rows

    to_api = await api.patch(
        path, json={"mode": "api", "api_username": "kiunga", "api_password": "pw-1"}
    )
    assert to_api.status_code == 200, to_api.text
    assert "10.9.0.2" not in platform_rows(engine)
    back = await api.patch(path, json={"mode": "radius"})  # the secret was kept
    assert back.status_code == 200, back.text
    assert platform_rows(engine).get("10.9.0.2") == (tenant.id, router["id"])

    assert (await api.delete(path)).status_code == 204
    assert "10.9.0.2" not in platform_rows(engine)


async def test_an_address_belongs_to_one_router_of_one_isp(api, other_api, engine, tenant):
    mine = (await api.post("/api/v1/routers", json=radius_router("10.9.1.1"))).json()

    clash = await other_api.post("/api/v1/routers", json=radius_router("10.9.1.1"))
    assert clash.status_code == 409, clash.text
    assert [e["field"] for e in clash.json()["errors"]] == ["radius_source_address"]
    assert tenant.slug not in clash.text and mine["name"] not in clash.text
    assert (await other_api.get("/api/v1/routers")).json() == []
    explicit = await other_api.post(
        "/api/v1/routers",
        json=radius_router("nas.other.example", radius_source_address="10.9.1.1"),
    )
    assert explicit.status_code == 409
    # IPv6 addresses are compared in their canonical form.
    v6 = await api.post("/api/v1/routers", json=radius_router("2001:DB8::0001", name="v6"))
    assert v6.status_code == 201 and v6.json()["address"] == "2001:db8::1"
    v6_clash = await other_api.post("/api/v1/routers", json=radius_router("2001:db8:0::1"))
    assert v6_clash.status_code == 409

    # The same address in api mode needs no RADIUS route, so it is no clash…
    theirs = await other_api.post("/api/v1/routers", json=api_router(8728, address="10.9.1.1"))
    assert theirs.status_code == 201, theirs.text
    # …until it asks to be a RADIUS client there.
    path = f"/api/v1/routers/{theirs.json()['id']}"
    switched = await other_api.patch(path, json={"mode": "radius", "radius_secret": "s3cret"})
    assert switched.status_code == 409
    assert switched.json()["errors"][0]["field"] == "radius_source_address"
    assert (await other_api.get(path)).json()["mode"] == "api"

    # Two routers of one ISP cannot share one either.
    twin = await api.post("/api/v1/routers", json=radius_router("10.9.1.1", name="Twin"))
    assert twin.status_code == 409

    assert platform_rows(engine).get("10.9.1.1") == (tenant.id, mine["id"])
    # Once the first ISP's router moves away, the address is free.
    await api.patch(f"/api/v1/routers/{mine['id']}", json={"address": "10.9.1.2"})
    taken = await other_api.patch(path, json={"mode": "radius", "radius_secret": "s3cret"})
    assert taken.status_code == 200, taken.text
    assert platform_rows(engine).get("10.9.1.1")[1] == theirs.json()["id"]


async def test_the_radius_server_loads_every_client(
    api, other_api, engine, tenant, other_tenant, database
):
    a = await api.post(
        "/api/v1/routers",
        json=radius_router(
            "10.9.2.1", radius_secret="alpha-secret", require_message_authenticator=True
        ),
    )
    b = await other_api.post(
        "/api/v1/routers", json=radius_router("10.9.2.2", radius_secret="bravo-secret")
    )
    await api.post("/api/v1/routers", json=api_router(8728, address="10.9.2.3"))
    assert a.status_code == b.status_code == 201

    entries = {
        entry.source_address: entry
        for entry in await load_radius_clients(database)
        if entry.tenant_id in (tenant.id, other_tenant.id)
    }
    assert set(entries) == {"10.9.2.1", "10.9.2.2"}
    alpha = entries["10.9.2.1"]
    assert (alpha.tenant_slug, alpha.tenant_schema, alpha.router_id) == (
        tenant.slug,
        tenant.schema,
        a.json()["id"],
    )
    assert alpha.secret == "alpha-secret" and alpha.require_message_authenticator is True
    assert alpha.coa_port == 3799 and "alpha-secret" not in repr(alpha)
    bravo = entries["10.9.2.2"]
    assert bravo.secret == "bravo-secret" and bravo.require_message_authenticator is False
    assert bravo.tenant_schema == other_tenant.schema

    directory = await load_client_directory(database)
    nas = directory["10.9.2.1"]
    assert nas.secret == b"alpha-secret" and nas.tenant_key == tenant.schema
    assert nas.router_id == str(a.json()["id"]) and nas.require_message_authenticator
    assert "10.9.2.3" not in directory

    one = await load_radius_client(database, "10.9.2.2")
    assert one is not None and one.router_id == b.json()["id"]
    assert await load_radius_client(database, "10.9.2.3") is None
    assert await load_radius_client(database, "not an address") is None

    # A disabled ISP's routers are nobody's.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == other_tenant.id).values(status=TenantStatus.DISABLED)
        )
    assert await load_radius_client(database, "10.9.2.2") is None
    assert await load_radius_client(database, "10.9.2.1") is not None
