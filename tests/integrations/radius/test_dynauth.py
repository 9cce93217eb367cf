"""CoA and Disconnect (RFC 5176): our client against the listener that plays the router,
and Debian's radclient against the same listener to show it speaks the real protocol."""

from __future__ import annotations

import pytest
from kiunga.integrations.radius.dynauth import DynAuthOutcome, send_coa, send_disconnect
from kiunga.integrations.radius.emulator import CoaListener

SECRET = b"coa-secret"


@pytest.fixture
async def router():
    async with CoaListener(SECRET) as listener:
        yield listener


async def test_coa_ack(router):
    result = await send_coa(
        "127.0.0.1",
        SECRET,
        {"User-Name": "alice", "Acct-Session-Id": "81a00001", "Mikrotik-Rate-Limit": "1M/1M"},
        port=router.port,
    )

    assert result.outcome is DynAuthOutcome.ACK and result.acked
    assert result.attempts == 1
    (received,) = router.received
    assert received.kind == "coa"
    assert received.attributes == {
        "User-Name": ["alice"],
        "Acct-Session-Id": ["81a00001"],
        "Mikrotik-Rate-Limit": ["1M/1M"],
    }
    assert received.had_message_authenticator


async def test_disconnect_nak_carries_the_error_cause(router):
    router.answer = "nak"
    router.error_cause = 503

    result = await send_disconnect("127.0.0.1", SECRET, [("User-Name", "alice")], port=router.port)

    assert result.outcome is DynAuthOutcome.NAK
    assert result.error_cause == 503
    assert result.error_cause_name == "Session-Context-Not-Found"
    assert router.received[0].kind == "disconnect"


async def test_disconnect_ack(router):
    result = await send_disconnect(
        "127.0.0.1", SECRET, {"Framed-IP-Address": "10.20.0.7"}, port=router.port
    )

    assert result.acked
    assert router.received[0].attributes == {"Framed-IP-Address": ["10.20.0.7"]}


async def test_a_silent_router_times_out_after_identical_retransmissions(router):
    router.answer = "ignore"

    result = await send_coa(
        "127.0.0.1", SECRET, {"User-Name": "alice"}, port=router.port, retry_after=0.2, attempts=3
    )

    assert result.outcome is DynAuthOutcome.TIMEOUT
    assert result.attempts == 3
    received = await router.wait_for(3)
    # a retransmission keeps its identifier, so the NAS can tell it is one
    assert len({request.identifier for request in received}) == 1


async def test_a_request_signed_with_another_secret_is_ignored_by_the_router(router):
    result = await send_coa(
        "127.0.0.1", b"other", {"User-Name": "alice"}, port=router.port, retry_after=0.2,
        attempts=2,
    )  # fmt: skip

    assert result.outcome is DynAuthOutcome.TIMEOUT
    assert router.received == []
    assert router.bad_secret == 2


@pytest.mark.parametrize("kind", ["coa", "disconnect"])
async def test_radclient_gets_an_ack(nas, router, kind):
    result = await nas.radclient(
        router.address,
        kind,
        'User-Name = "alice"\nAcct-Session-Id = "81a00001"\n',
        secret=SECRET.decode(),
    )

    assert result.reply_code == {"coa": "CoA-ACK", "disconnect": "Disconnect-ACK"}[kind], (
        result.output
    )
    assert router.received[0].kind == kind
    assert router.received[0].attributes["Acct-Session-Id"] == ["81a00001"]


async def test_radclient_gets_a_nak_with_its_error_cause(nas, router):
    router.answer = "nak"
    router.error_cause = 404

    result = await nas.radclient(
        router.address, "coa", 'User-Name = "alice"\n', secret=SECRET.decode()
    )

    assert result.reply_code == "CoA-NAK", result.output
    assert result.first("Error-Cause") == "Invalid-Request"
