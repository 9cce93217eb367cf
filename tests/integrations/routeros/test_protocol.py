"""The emulator as librouteros sees it: login, queries, replies and refusals on the wire."""

from __future__ import annotations

import librouteros
import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from librouteros.exceptions import FatalError, TrapError
from librouteros.login import async_token
from librouteros.query import And, Key, Or

from .conftest import PASSWORD


async def connect(router: RouterEmulator, password: str = PASSWORD, **options):
    return await librouteros.async_connect(
        router.host, "admin", password, port=router.port, encoding="utf-8", **options
    )


async def rows_of(api, command: str, *words: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every reply sentence to one command, as (reply word, words), up to !done."""
    await api.protocol.writeSentence(command, *words)
    sentences = []
    while True:
        reply, rest = await api.protocol.readSentence()
        sentences.append((reply, rest))
        if reply == "!done":
            return sentences


async def test_plain_login_then_a_command(router):
    api = await connect(router)
    try:
        rows = [row async for row in api("/system/identity/print")]
        assert rows == [{"name": "acme-core"}]
    finally:
        await api.close()


async def test_a_wrong_password_is_a_trap_that_librouteros_raises(router):
    with pytest.raises(TrapError) as refused:
        await connect(router, password="wrong")
    assert refused.value.message == "invalid user name or password (6)"


async def test_the_wrong_password_answer_is_a_trap_then_done(router):
    api = await connect(router)
    try:
        sentences = await rows_of(api, "/login", "=name=admin", "=password=nope")
        assert sentences == [
            ("!trap", ("=message=invalid user name or password (6)",)),
            ("!done", ()),
        ]
    finally:
        await api.close()


async def test_the_pre_6_43_challenge_login_works_too(router):
    api = await connect(router, login_method=async_token)
    try:
        assert [row async for row in api("/system/identity/print")]
    finally:
        await api.close()


async def test_a_command_before_login_is_fatal(router):
    transport = await librouteros.async_create_transport(
        router.host, port=router.port, saddr=None, timeout=5
    )
    protocol = librouteros.AsyncApiProtocol(transport, encoding="utf-8", timeout=5)
    await protocol.writeSentence("/ppp/secret/print")
    with pytest.raises(FatalError, match="not logged in"):
        await protocol.readSentence()


async def test_quit_is_answered_by_fatal(router):
    api = await connect(router)
    await api.protocol.writeSentence("/quit")
    with pytest.raises(FatalError, match="session terminated on request"):
        await api.protocol.readSentence()


async def test_every_reply_sentence_carries_the_tag(router):
    router.state.login_ppp("alice")
    router.state.login_ppp("bob")
    api = await connect(router)
    try:
        listed = await rows_of(api, "/ppp/active/print", ".tag=7", "=.proplist=name")
        assert [reply for reply, _ in listed] == ["!re", "!re", "!done"]
        assert all(".tag=7" in words for _, words in listed)
        refused = await rows_of(api, "/ppp/nothing/print", ".tag=8")
        assert [(reply, ".tag=8" in words) for reply, words in refused] == [
            ("!trap", True),
            ("!done", True),
        ]
        empty = await rows_of(api, "/queue/simple/print", ".tag=9")
        assert empty == [("!empty", (".tag=9",)), ("!done", (".tag=9",))]
    finally:
        await api.close()


async def test_an_empty_print_answers_empty_then_done_and_librouteros_copes(router):
    api = await connect(router)
    try:
        assert await rows_of(api, "/ip/hotspot/active/print") == [("!empty", ()), ("!done", ())]
        assert [row async for row in api.path("ip", "hotspot", "active")] == []
    finally:
        await api.close()


async def test_before_7_18_an_empty_print_is_done_alone():
    with RouterEmulator(password=PASSWORD, empty_replies=False) as old_router:
        api = await connect(old_router)
        try:
            assert await rows_of(api, "/ppp/active/print") == [("!done", ())]
        finally:
            await api.close()


async def test_print_queries_and_proplist(router):
    api = await connect(router)
    try:
        secrets = api.path("ppp", "secret")
        for name, service, disabled in [
            ("alice", "pppoe", "no"),
            ("bob", "pppoe", "yes"),
            ("carol", "l2tp", "no"),
        ]:
            await secrets.add(name=name, password="pw", service=service, disabled=disabled)
        await secrets.add(name="dave", password="pw", comment="field tech")

        name, service, disabled, comment = (
            Key("name"),
            Key("service"),
            Key("disabled"),
            Key("comment"),
        )

        async def names(query) -> list[str]:
            return [row["name"] async for row in query]

        assert await names(secrets.select(name).where(service == "pppoe")) == ["alice", "bob"]
        assert await names(
            secrets.select(name).where(And(service == "pppoe", disabled == False))  # noqa: E712
        ) == ["alice"]
        assert await names(secrets.select(name).where(Or(name == "carol", name == "dave"))) == [
            "carol",
            "dave",
        ]
        assert await names(secrets.select(name).where(service != "pppoe")) == ["carol", "dave"]
        assert await names(secrets.select(name).where(name.In("bob", "dave"))) == ["bob", "dave"]

        only_name = [row async for row in secrets.select(name, comment).where(name == "dave")]
        assert only_name == [{"name": "dave", "comment": "field tech"}]

        async def raw_names(*query: str) -> list[str]:
            return [row["name"] async for row in api.rawCmd("/ppp/secret/print", *query)]

        assert await raw_names("?comment") == ["dave"]
        assert await raw_names("?-comment") == ["alice", "bob", "carol"]
        assert await raw_names("?name=bob") == ["bob"]
        assert await raw_names("?=name=bob", "?#!") == ["alice", "carol", "dave"]
        assert await raw_names("?>name=bob", "?<name=dave") == ["carol"]
        counted = [row async for row in api.rawCmd("/ppp/secret/print", "=count-only=")]
        assert counted == [{"ret": 4}]
    finally:
        await api.close()


async def test_add_set_remove_and_the_ids_they_use(router):
    api = await connect(router)
    try:
        users = api.path("ip", "hotspot", "user")
        first = await users.add(name="v-100", password="a")
        second = await users.add(name="v-101", password="b")
        third = await users.add(name="v-102", password="c")
        assert (first, second, third) == ("*1", "*2", "*3")
        await users.update(**{".id": second, "password": "changed", "disabled": True})
        changed = router.state.find("/ip/hotspot/user", name="v-101")[0]
        assert (changed["password"], changed["disabled"]) == ("changed", "true")
        await users.remove(first, third)
        assert [row["name"] for row in router.state.rows("/ip/hotspot/user")] == ["v-101"]
        for _ in range(0x19):  # ids count per menu, in hex
            await api.path("queue", "simple").add(target="10.1.0.1/32")
        assert await api.path("queue", "simple").add(target="10.1.0.2/32") == "*1A"
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("command", "words", "message"),
    [
        ("/ip/hotspot/user/add", ["=name=dup", "=password=x"],
         "failure: already have user with this name for this server"),
        ("/ppp/secret/add", ["=name=dup"], "failure: secret with the same name already exists"),
        ("/ppp/profile/add", ["=name=dup"], "failure: already have such name"),
        ("/ip/hotspot/user/profile/add", ["=name=dup"], "failure: already have such name"),
        ("/queue/simple/add", ["=name=dup", "=target=10.0.0.9/32"],
         "failure: already have such name"),
        ("/ip/firewall/address-list/add", ["=list=l", "=address=10.0.0.9"],
         "failure: already have such entry"),
    ],
)  # fmt: skip
async def test_adding_a_duplicate_traps_with_routeros_wording(router, command, words, message):
    api = await connect(router)
    try:
        assert [row async for row in api.rawCmd(command, *words)]
        with pytest.raises(TrapError) as refused:
            [row async for row in api.rawCmd(command, *words)]
        assert refused.value.message == message
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("command", "words", "message", "category"),
    [
        ("/ip/nothing/print", [], "no such command prefix", 0),
        ("/ppp/secret/frobnicate", [], "no such command", 0),
        ("/ppp/active/add", ["=name=x"], "no such command", 0),
        ("/ppp/secret/remove", ["=.id=*99"], "no such item", 0),
        ("/ppp/secret/set", ["=.id=*99", "=password=x"], "no such item", 0),
        ("/ppp/secret/add", ["=name=x", "=colour=red"], "unknown parameter colour", 1),
        ("/ppp/secret/add", ["=name=x", "=profile=gold"],
         "input does not match any value of profile", 1),
        ("/ppp/profile/remove", ["=.id=*0"], "failure: cannot remove default", 4),
        ("/queue/simple/add", ["=target=10.0.0.1/32", "=max-limit=fast"],
         "invalid value for argument max-limit", 1),
    ],
)  # fmt: skip
async def test_refusals_name_what_is_wrong(router, command, words, message, category):
    api = await connect(router)
    try:
        with pytest.raises(TrapError) as refused:
            [row async for row in api.rawCmd(command, *words)]
        assert (refused.value.message, refused.value.category) == (message, category)
        # A refusal changes nothing and the connection goes on.
        assert [row async for row in api("/ppp/secret/print")] == []
    finally:
        await api.close()


async def test_a_remove_with_one_unknown_id_removes_nothing(router):
    api = await connect(router)
    try:
        lists = api.path("ip", "firewall", "address-list")
        kept = await lists.add(list="blocked", address="10.0.0.1")
        with pytest.raises(TrapError, match="no such item"):
            await lists.remove(kept, "*77")
        assert len(router.state.rows("/ip/firewall/address-list")) == 1
    finally:
        await api.close()


def test_the_synchronous_librouteros_api_works_too(router):
    api = librouteros.connect(router.host, "admin", PASSWORD, port=router.port)
    try:
        resource = next(iter(api("/system/resource/print")))
        assert resource["version"] == "7.18.2 (stable)"
        assert resource["board-name"] == "hAP ax^2"
    finally:
        api.close()
