"""The helpers provisioning uses: items Kiunga makes carry its tenant's mark, and nothing
without that mark is ever changed or removed."""

from __future__ import annotations

import pytest
from kiunga.integrations.routeros.client import (
    ADDRESS_LIST,
    HOTSPOT_USER,
    HOTSPOT_USER_PROFILE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    SUSPENDED_LIST,
    Ensured,
    RouterItemNotOurs,
)
from kiunga.integrations.routeros.marks import mark

from .conftest import TENANT


async def test_ensure_creates_then_leaves_alone_then_changes_only_what_differs(client, router):
    await client.ensure_ppp_profile("5M", rate_limit="5M/10M", local_address="10.10.0.1")
    created = await client.ensure_ppp_secret("1234", password="pw", profile="5M", key="svc:7")
    assert created == Ensured("*1", created=True)
    secret = router.state.find(PPP_SECRET, name="1234")[0]
    assert secret["comment"] == f"kiunga:{TENANT}:svc:7"
    assert (secret["profile"], secret["service"], secret["disabled"]) == ("5M", "pppoe", "false")

    sent = len(router.state.commands)
    again = await client.ensure_ppp_secret("1234", password="pw", profile="5M", key="svc:7")
    assert again == Ensured("*1")
    assert [c[0] for c in router.state.commands[sent:]] == ["/ppp/secret/print"]

    await client.ensure_ppp_profile("10M", rate_limit="10M/20M")
    moved = await client.ensure_ppp_secret(
        "1234", password="pw", profile="10M", disabled=True, key="svc:7"
    )
    assert moved == Ensured("*1", changed=True)
    assert router.state.commands[-1] == [
        "/ppp/secret/set",
        "=.id=*1",
        "=profile=10M",
        "=disabled=yes",
    ]


async def test_an_item_is_found_by_its_key_after_a_rename(client, router):
    await client.ensure_ppp_secret("old-name", password="pw", profile="default", key="svc:9")
    found = await client.find_by_key(PPP_SECRET, "svc:9")
    assert found is not None and found["name"] == "old-name"
    await client.set(PPP_SECRET, found[".id"], name="new-name")
    renamed = await client.find_by_key(PPP_SECRET, "svc:9")
    assert renamed is not None and renamed["name"] == "new-name"
    assert await client.find_by_key(PPP_SECRET, "svc:10") is None


async def test_an_item_of_the_same_name_made_by_hand_is_refused_not_touched(client, router):
    router.state.menus.add(PPP_SECRET, {"name": "admin-vpn", "password": "keep"})
    with pytest.raises(RouterItemNotOurs) as refused:
        await client.ensure_ppp_secret("admin-vpn", password="other", profile="default")
    assert refused.value.path == PPP_SECRET
    assert router.state.find(PPP_SECRET, name="admin-vpn")[0]["password"] == "keep"
    assert await client.remove_ppp_secret("admin-vpn") == 0
    assert router.state.find(PPP_SECRET, name="admin-vpn")


async def test_another_tenants_items_are_not_ours(client, client_for, router):
    other = client_for(router, tenant="other-isp")
    await other.ensure_hotspot_user("shared-name", password="x", profile="default")
    with pytest.raises(RouterItemNotOurs):
        await client.ensure_hotspot_user("shared-name", password="y", profile="default")
    assert await client.remove_hotspot_user("shared-name") == 0
    assert await other.remove_hotspot_user("shared-name") == 1


async def test_hotspot_profile_and_user(client, router):
    day_pass = client.reserved_name("pkg-4")
    assert day_pass == f"kiunga-{TENANT}-pkg-4"
    created = await client.ensure_hotspot_user_profile(day_pass, rate_limit="2M/4M", shared_users=2)
    assert created.created
    await client.ensure_hotspot_user(
        "483920", password="483920", profile=day_pass, limit_uptime="1d"
    )
    profile = router.state.find(HOTSPOT_USER_PROFILE, name=day_pass)[0]
    assert (profile["rate-limit"], profile["shared-users"]) == ("2M/4M", "2")
    assert "comment" not in profile  # RouterOS has none on this menu: the name is the mark
    assert await client.find_by_key(HOTSPOT_USER_PROFILE, "pkg-4") == profile
    assert await client.ensure_hotspot_user_profile(
        day_pass, rate_limit="2M/4M", shared_users=2
    ) == Ensured(profile[".id"])
    user = (await client.ours(HOTSPOT_USER))[0]
    assert (user["name"], user["profile"], user["limit-uptime"]) == ("483920", day_pass, "1d")
    assert user["comment"] == mark(TENANT, "user:483920")


async def test_a_hotspot_profile_without_a_reserved_name_is_refused_before_sending(client, router):
    with pytest.raises(ValueError, match="reserved name"):
        await client.ensure_hotspot_user_profile("day-pass", rate_limit="2M/4M")
    with pytest.raises(ValueError, match="no comment"):
        await client.ensure_hotspot_user_profile(
            "kiunga-other-isp-pkg-4", rate_limit="2M/4M", key="pkg-4"
        )
    assert router.state.commands == []


async def test_reserved_names_of_another_tenant_or_by_hand_are_not_ours(client, client_for, router):
    longer = client_for(router, tenant=f"{TENANT}-west")  # a slug that starts with ours
    await longer.ensure_hotspot_user_profile(longer.reserved_name("pkg-4"), rate_limit="1M/1M")
    router.state.menus.add(HOTSPOT_USER_PROFILE, {"name": f"{TENANT}-pkg-4"})
    assert await client.ours(HOTSPOT_USER_PROFILE) == []
    assert await client.find_by_key(HOTSPOT_USER_PROFILE, "pkg-4") is None
    assert [row["name"] for row in await longer.ours(HOTSPOT_USER_PROFILE)] == [
        f"kiunga-{TENANT}-west-pkg-4"
    ]


async def test_a_queue_rate_given_in_megabits_is_not_rewritten_when_printed_in_bits(client, router):
    first = await client.ensure_simple_queue("sub-42", target="10.20.0.42/32", rate_limit="5M/10M")
    assert first.created
    queue = router.state.find(SIMPLE_QUEUE, name="sub-42")[0]
    assert queue["max-limit"] == "5000000/10000000"  # upload/download, as RouterOS prints it
    again = await client.ensure_simple_queue("sub-42", target="10.20.0.42/32", rate_limit="5M/10M")
    assert again == Ensured(first.id)
    faster = await client.ensure_simple_queue(
        "sub-42", target="10.20.0.42/32", rate_limit="10M/20M"
    )
    assert faster.changed
    assert await client.remove_simple_queue("sub-42") == 1


async def test_suspending_and_restoring_an_address(client, router):
    router.state.menus.add(ADDRESS_LIST, {"list": SUSPENDED_LIST, "address": "10.0.0.99"})
    assert (await client.suspend_address("10.20.0.42")).created
    assert not (await client.suspend_address("10.20.0.42")).created  # idempotent
    assert await client.suspended_addresses() == ["10.20.0.42"]
    assert await client.restore_address("10.20.0.42") == 1
    assert await client.restore_address("10.20.0.42") == 0
    # The entry someone added by hand is still there.
    assert [row["address"] for row in router.state.rows(ADDRESS_LIST)] == ["10.0.0.99"]


async def test_the_marking_helpers_need_a_tenant(router, client_for):
    anonymous = client_for(router, tenant=None)
    with pytest.raises(ValueError, match="no tenant"):
        await anonymous.ensure_ppp_profile("x", rate_limit="1M/1M")
    assert await anonymous.list(PPP_PROFILE, name="x") == []
