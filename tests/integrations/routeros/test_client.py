"""RouterOSClient against the emulator over real TCP: values, errors and the generic calls."""

from __future__ import annotations

import asyncio

import pytest
from kiunga.integrations.routeros.client import (
    HOTSPOT_USER,
    PPP_SECRET,
    SIMPLE_QUEUE,
    RouterAuthFailed,
    RouterConnection,
    RouterOSClient,
    RouterOSGateway,
    RouterStatus,
    RouterTrap,
    RouterUnreachable,
)
from kiunga.integrations.routeros.emulator import RouterEmulator

from .conftest import PASSWORD


async def test_status_reads_identity_and_resources(client):
    status = await client.status()
    assert isinstance(status, RouterStatus)
    assert status.identity == "acme-core"
    assert status.version == "7.18.2 (stable)"
    assert status.board_name == "hAP ax^2"
    assert (status.cpu_load, status.total_memory) == (3, 1073741824)
    assert status.free_memory is not None and status.uptime.endswith("s")
    assert await client.test_connection() == status


def test_the_client_is_a_gateway(client):
    assert isinstance(client, RouterOSGateway)


async def test_values_come_back_as_the_strings_the_router_sent(client, router):
    # librouteros alone would hand back 1234 (int), 7 and True for these.
    await client.add(HOTSPOT_USER, name="1234", password="0042", comment="yes")
    await client.add(HOTSPOT_USER, name="007", password="7")
    rows = await client.list(HOTSPOT_USER)
    assert [(row["name"], row["password"], row.get("comment")) for row in rows] == [
        ("1234", "0042", "yes"),
        ("007", "7", None),
    ]
    assert all(isinstance(value, str) for row in rows for value in row.values())
    assert rows[0]["disabled"] == "false"
    found = await client.list(HOTSPOT_USER, name="1234", proplist=[".id", "name"])
    assert found == [{".id": "*1", "name": "1234"}]


@pytest.mark.parametrize("empty_replies", [True, False])
async def test_an_empty_print_is_an_empty_list_before_and_after_7_18(client_for, empty_replies):
    with RouterEmulator(password=PASSWORD, empty_replies=empty_replies) as router:
        client = client_for(router)
        assert await client.list(PPP_SECRET) == []
        assert await client.hotspot_sessions("nobody") == []
        assert (await client.status()).identity == "MikroTik"


async def test_a_command_cancelled_mid_reply_leaves_no_stale_answer(router, client):
    router.state.login_ppp("alice")
    assert await client.identity() == "acme-core"  # connected and logged in
    router.unresponsive()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.ppp_sessions(), 0.2)
    router.online()  # the held answer (alice's session) is sent now
    assert await client.identity() == "acme-core"
    assert [row["name"] for row in await client.ppp_sessions()] == ["alice"]


async def test_generic_add_set_remove(client, router):
    first = await client.add(PPP_SECRET, name="alice", password="a", remote_address="10.9.0.2")
    second = await client.add("ppp/secret/", name="bob", password="b")
    await client.set(PPP_SECRET, first, password="new", disabled=True)
    alice = router.state.find(PPP_SECRET, name="alice")[0]
    assert (alice["password"], alice["disabled"], alice["remote-address"]) == (
        "new",
        "true",
        "10.9.0.2",
    )
    await client.set(PPP_SECRET, first, remote_address=None)  # unset
    assert "remote-address" not in router.state.find(PPP_SECRET, name="alice")[0]
    await client.remove(PPP_SECRET, first, second)
    assert await client.list(PPP_SECRET) == []


async def test_refusals_are_router_traps_with_message_and_path(client):
    await client.add(PPP_SECRET, name="alice")
    with pytest.raises(RouterTrap) as duplicate:
        await client.add(PPP_SECRET, name="alice")
    assert duplicate.value.message == "failure: secret with the same name already exists"
    assert duplicate.value.path == "/ppp/secret/add"
    with pytest.raises(RouterTrap) as unknown:
        await client.remove(PPP_SECRET, "*7F")
    assert (unknown.value.message, unknown.value.category) == ("no such item", 0)
    with pytest.raises(RouterTrap, match="no such command prefix"):
        await client.list("/ip/nowhere")
    # The connection survives a refusal.
    assert [row["name"] for row in await client.list(PPP_SECRET)] == ["alice"]


async def test_wrong_credentials_are_router_auth_failed(router, client_for):
    client = client_for(router, password="not-it")
    with pytest.raises(RouterAuthFailed, match=r"invalid user name or password \(6\)"):
        await client.status()


async def test_nothing_listening_is_router_unreachable(router, client_for):
    client = client_for(router)
    router.offline()
    with pytest.raises(RouterUnreachable):
        await client.status()
    router.online()
    assert (await client.status()).identity == "acme-core"


async def test_a_router_that_drops_mid_conversation_is_unreachable_then_reconnects(router, client):
    await client.add(SIMPLE_QUEUE, name="q1", target="10.0.0.2/32")
    router.offline()
    with pytest.raises(RouterUnreachable):
        await client.list(SIMPLE_QUEUE)
    router.online()
    assert [row["name"] for row in await client.list(SIMPLE_QUEUE)] == ["q1"]


async def test_a_router_that_never_answers_times_out_as_unreachable(router, client_for):
    client = client_for(router, timeout=0.3)
    assert await client.identity() == "acme-core"
    router.unresponsive()
    with pytest.raises(RouterUnreachable, match="timed out"):
        await client.identity()
    fresh = client_for(router, timeout=0.3)  # the login itself is never answered
    with pytest.raises(RouterUnreachable, match="timed out"):
        await fresh.identity()
    router.online()
    assert await client.identity() == "acme-core"


def test_one_client_serves_successive_event_loops(router):
    client = RouterOSClient(router.connection())
    assert asyncio.run(client.identity()) == "acme-core"
    assert asyncio.run(client.identity()) == "acme-core"
    asyncio.run(client.close())


async def test_an_injected_trap_fails_the_next_matching_command_only(router, client):
    router.state.fail_next("/ppp/secret/add", "failure: out of memory", category=4)
    await client.add(HOTSPOT_USER, name="unaffected")
    with pytest.raises(RouterTrap) as refused:
        await client.add(PPP_SECRET, name="alice")
    assert (refused.value.message, refused.value.category, refused.value.path) == (
        "failure: out of memory",
        4,
        "/ppp/secret/add",
    )
    assert await client.list(PPP_SECRET) == []
    await client.add(PPP_SECRET, name="alice")
    assert len(await client.list(PPP_SECRET)) == 1


async def test_cutting_sessions_removes_only_that_users_active_rows(router, client):
    for user in ("1234", "5678"):
        await client.ensure_hotspot_user(user, password="pw", profile="default")
    for name in ("alice", "bob"):
        await client.ensure_ppp_secret(name, password="pw", profile="default")
    router.state.login_hotspot("1234", address="10.5.50.2")
    router.state.login_hotspot("1234", address="10.5.50.3", mac_address="02:00:00:00:00:09")
    router.state.login_hotspot("5678", address="10.5.50.4")
    router.state.login_ppp("alice")
    router.state.login_ppp("bob")

    sessions = await client.hotspot_sessions("1234")
    assert [row["address"] for row in sessions] == ["10.5.50.2", "10.5.50.3"]
    assert await client.cut_hotspot_sessions("1234") == 2
    assert [row["user"] for row in router.state.rows("/ip/hotspot/active")] == ["5678"]
    assert await client.cut_hotspot_sessions("1234") == 0

    assert await client.cut_ppp_sessions("alice") == 1
    assert [row["name"] for row in await client.ppp_sessions()] == ["bob"]


async def test_only_sessions_this_tenants_item_let_in_are_cut(router, client, client_for):
    other = client_for(router, tenant="other-isp")
    await other.ensure_ppp_secret("shared", password="pw", profile="default")
    await client.add(PPP_SECRET, name="staff", password="pw", profile="default")
    await client.ensure_hotspot_user("ours", password="pw", profile="default")
    router.state.login_ppp("shared")
    router.state.login_ppp("staff")
    router.state.login_ppp("nobody")  # no secret: RADIUS let it in
    router.state.login_hotspot("radius-user")
    assert await client.cut_ppp_sessions("shared") == 0
    assert await client.cut_ppp_sessions("staff") == 0
    assert await client.cut_ppp_sessions("nobody") == 0
    assert await client.cut_hotspot_sessions("radius-user") == 0
    assert len(router.state.rows("/ppp/active")) == 3
    # Our user's name, but the session came in through RADIUS before the user was added.
    router.state.login_hotspot("late")
    await client.ensure_hotspot_user("late", password="pw", profile="default")
    router.state.login_hotspot("ours", address="10.5.50.9")
    assert await client.cut_own_sessions("/ip/hotspot/active", ["late", "ours"]) == ["ours"]
    assert await client.cut_own_sessions("/ppp/active", ["shared"], one_by_one=False) == []
    assert await other.cut_own_sessions("/ppp/active", ["shared"], one_by_one=False) == ["shared"]


async def test_many_clients_at_once_and_one_client_shared_by_many_tasks(router, client_for):
    clients = [client_for(router) for _ in range(8)]

    async def add_users(index: int, client: RouterOSClient) -> list[str]:
        return [await client.add(HOTSPOT_USER, name=f"c{index}-u{n}") for n in range(5)]

    ids = await asyncio.gather(*(add_users(i, c) for i, c in enumerate(clients)))
    assert len({item for batch in ids for item in batch}) == 40

    shared = client_for(router)
    listed = await asyncio.gather(*(shared.list(HOTSPOT_USER, name=f"c{i}-u0") for i in range(8)))
    assert [rows[0]["name"] for rows in listed] == [f"c{i}-u0" for i in range(8)]
    assert len(router.state.rows(HOTSPOT_USER)) == 40


async def test_api_ssl_with_the_routers_certificate(client_for):
    with RouterEmulator(password=PASSWORD, tls=True, identity="tls-router") as router:
        client = client_for(router)
        assert client.connection.tls
        assert (await client.status()).identity == "tls-router"
        untrusted = client_for(router, ca_pem=None)
        with pytest.raises(RouterUnreachable):
            await untrusted.status()
        unverified = client_for(router, ca_pem=None, verify_tls=False)
        assert (await unverified.status()).identity == "tls-router"


def test_connection_settings_default_ports_and_hide_the_password():
    plain = RouterConnection("10.0.0.1", "kiunga", "hunter2")
    assert plain.api_port == 8728 and "hunter2" not in repr(plain)
    assert RouterConnection("10.0.0.1", "kiunga", tls=True).api_port == 8729
