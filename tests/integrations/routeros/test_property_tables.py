"""The emulator knows each menu's properties as RouterOS 7 documents them: a property a menu
does not have is refused as the router refuses it, read-only ones can be printed but not
set, and the firewall filter holds its rules in order."""

from __future__ import annotations

import librouteros
import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from librouteros.exceptions import TrapError

from .conftest import PASSWORD


async def connect(router: RouterEmulator):
    return await librouteros.async_connect(
        router.host, "admin", PASSWORD, port=router.port, encoding="utf-8"
    )


async def run(api, command: str, **attributes: str) -> list[dict]:
    words = [f"={key}={value}" for key, value in attributes.items()]
    return [row async for row in api.rawCmd(command, *words)]


async def test_a_hotspot_user_profile_has_no_comment(router):
    api = await connect(router)
    try:
        with pytest.raises(TrapError) as refused:
            await run(api, "/ip/hotspot/user/profile/add", name="day", comment="kiunga:x:pkg-1")
        assert refused.value.message == "unknown parameter comment"
        assert router.state.find("/ip/hotspot/user/profile", name="day") == []
        # And so a user naming that profile is refused too.
        with pytest.raises(TrapError) as refused:
            await run(api, "/ip/hotspot/user/add", name="u1", profile="day")
        assert refused.value.message == "input does not match any value of profile"
        # A PPP profile does have a comment.
        await run(api, "/ppp/profile/add", name="day", comment="kiunga:x:pkg-1")
        assert router.state.find("/ppp/profile", name="day")[0]["comment"] == "kiunga:x:pkg-1"
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("menu", "attributes"),
    [
        ("/ppp/secret", {"name": "a", "rate-limit": "1M/1M"}),
        ("/queue/simple", {"target": "10.0.0.1/32", "rate-limit": "1M/1M"}),
        ("/ip/firewall/address-list", {"list": "x", "address": "10.0.0.1", "name": "x"}),
        ("/ip/firewall/filter", {"chain": "forward", "name": "x"}),
        ("/ip/hotspot/user", {"name": "a", "shared-users": "2"}),
    ],
)
async def test_a_property_the_menu_does_not_have_is_refused(router, menu, attributes):
    api = await connect(router)
    try:
        with pytest.raises(TrapError) as refused:
            await run(api, f"{menu}/add", **attributes)
        assert refused.value.message.startswith("unknown parameter ")
        assert router.state.rows(menu) == []
    finally:
        await api.close()


async def test_read_only_properties_are_printed_not_set(router):
    router.state.login_ppp("alice")
    api = await connect(router)
    try:
        [session] = await run(api, "/ppp/active/print")
        assert session["radius"] is True  # no secret of that name: RADIUS let it in
        with pytest.raises(TrapError):
            await run(api, "/ppp/active/set", **{".id": session[".id"], "comment": "x"})
        await run(api, "/ppp/secret/add", name="alice")
        [secret] = await run(api, "/ppp/secret/print")
        with pytest.raises(TrapError) as refused:
            await run(api, "/ppp/secret/set", **{".id": secret[".id"], "last-logged-out": "x"})
        assert refused.value.message == "unknown parameter last-logged-out"
    finally:
        await api.close()


async def test_firewall_filter_rules_keep_their_order_and_place_before(router):
    api = await connect(router)
    try:
        first = await run(api, "/ip/firewall/filter/add", chain="forward", action="accept")
        last = await run(api, "/ip/firewall/filter/add", chain="input", action="drop")
        placed = await run(
            api,
            "/ip/firewall/filter/add",
            chain="forward",
            action="drop",
            **{"src-address-list": "kiunga-suspended", "place-before": first[0]["ret"]},
        )
        rows = await run(api, "/ip/firewall/filter/print")
        assert [row[".id"] for row in rows] == [placed[0]["ret"], first[0]["ret"], last[0]["ret"]]
        assert rows[0]["disabled"] is False and rows[0]["action"] == "drop"
        with pytest.raises(TrapError) as refused:
            await run(api, "/ip/firewall/filter/add", chain="forward", action="explode")
        assert refused.value.message == "input does not match any value of action"
    finally:
        await api.close()


def test_a_listed_address_is_cut_only_when_a_rule_drops_the_list():
    with RouterEmulator() as router:
        state = router.state
        state.menus.add(
            "/ip/firewall/address-list", {"list": "kiunga-suspended", "address": "10.20.0.5"}
        )
        assert state.forwards("10.20.0.5")  # a stock router drops nothing
        state.menus.add(
            "/ip/firewall/filter",
            {"chain": "forward", "action": "accept", "connection-state": "established,related"},
        )
        state.menus.add(
            "/ip/firewall/filter",
            {"chain": "forward", "action": "drop", "src-address-list": "kiunga-suspended"},
        )
        assert not state.forwards("10.20.0.5")
        assert state.forwards("10.20.0.6")
        # An accept rule for everything placed before it wins.
        [drop] = state.find("/ip/firewall/filter", action="drop")
        state.menus.add(
            "/ip/firewall/filter",
            {"chain": "forward", "action": "accept", "place-before": drop[".id"]},
        )
        assert state.forwards("10.20.0.5")
