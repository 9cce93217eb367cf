"""Access-Requests from Debian's radtest/radclient: PAP and CHAP, accept attributes, the
reasons of a reject, and what is dropped unanswered (and counted)."""

from __future__ import annotations

import pytest
from kiunga.integrations.radius.interfaces import Authorization


async def test_pap_accept_carries_the_subscribers_limits(nas, radius):
    result = await nas.radtest(radius.auth, "alice", "alice-pass")

    assert result.reply_code == "Access-Accept", result.output
    assert result.first("Mikrotik-Rate-Limit") == "10M/5M"
    assert result.first("Session-Timeout") == "3600"
    # 6 GiB = 1 × 2^32 + 2 GiB
    assert result.first("Mikrotik-Total-Limit") == str(2 * 2**30)
    assert result.first("Mikrotik-Total-Limit-Gigawords") == "1"
    assert result.first("Framed-IP-Address") == "10.20.0.7"
    assert "Message-Authenticator" in result.attributes
    assert radius.metrics.value("access", result="accept") == 1


async def test_a_limit_under_4_gib_has_no_gigawords(nas, radius):
    result = await nas.radtest(radius.auth, "bob", "bob-pass")

    assert result.reply_code == "Access-Accept", result.output
    assert result.first("Mikrotik-Total-Limit") == "1000000"
    assert "Mikrotik-Total-Limit-Gigawords" not in result.attributes
    assert "Session-Timeout" not in result.attributes
    assert "Framed-IP-Address" not in result.attributes


async def test_chap_accept(nas, radius):
    result = await nas.radtest(radius.auth, "alice", "alice-pass", method="chap")

    assert result.reply_code == "Access-Accept", result.output
    assert result.first("Mikrotik-Rate-Limit") == "10M/5M"


async def test_chap_with_a_challenge_attribute(nas, radius):
    result = await nas.radclient(
        radius.auth,
        "auth",
        'User-Name = "alice"\nCHAP-Password = "alice-pass"\n'
        "CHAP-Challenge = 0x0102030405060708090a0b0c0d0e0f10\n",
    )
    # radclient turns the cleartext into the CHAP hash over the challenge given
    assert result.reply_code == "Access-Accept", result.output


@pytest.mark.parametrize("method", ["pap", "chap"])
async def test_wrong_password_is_rejected_with_a_reason(nas, radius, method):
    result = await nas.radtest(radius.auth, "alice", "not-hers", method=method)

    assert result.reply_code == "Access-Reject", result.output
    assert result.first("Reply-Message") == "Wrong password"
    assert "Mikrotik-Rate-Limit" not in result.attributes
    assert radius.metrics.value("rejects", reason="wrong_password") == 1


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("carol", "carol-pass", "Subscription expired"),
        ("dave", "anything", "Account suspended"),
        ("erin", "erin-pass", "Data bundle used up"),
        ("zed", "whatever", "Unknown user"),
        # the password is checked before an expiry is told
        ("carol", "guess", "Wrong password"),
    ],
)
async def test_reject_reasons(nas, radius, user, password, message):
    result = await nas.radtest(radius.auth, user, password)

    assert result.reply_code == "Access-Reject", result.output
    assert result.first("Reply-Message") == message


async def test_users_of_another_isp_are_unknown(nas, radius):
    radius.authorizer.set("isp-two", "frank", Authorization(password=b"frank-pass"))

    result = await nas.radtest(radius.auth, "frank", "frank-pass")

    assert result.first("Reply-Message") == "Unknown user"


async def test_an_unknown_nas_is_dropped_and_counted(nas, radius):
    radius.directory.clients.clear()

    result = await nas.radclient(
        radius.auth, "auth", 'User-Name = "alice"\nUser-Password = "alice-pass"\n', wait=1
    )

    assert result.reply_code is None, result.output
    assert "No reply from server" in result.output
    assert radius.metrics.value("dropped", reason="unknown_client") == 1
    assert radius.authorizer.calls == 0


async def test_a_wrong_secret_is_dropped_and_counted(nas, radius):
    # the Message-Authenticator's HMAC fails with our secret
    result = await nas.radclient(
        radius.auth,
        "auth",
        'User-Name = "alice"\nUser-Password = "alice-pass"\nMessage-Authenticator = 0x00\n',
        secret="not-the-secret",
        wait=1,
    )

    assert result.reply_code is None, result.output
    assert radius.metrics.value("dropped", reason="bad_authenticator") == 1
    assert radius.authorizer.calls == 0


async def test_a_required_message_authenticator_that_is_missing_drops_the_request(nas, radius):
    radius.client(require_message_authenticator=True)

    missing = await nas.radclient(
        radius.auth, "auth", 'User-Name = "alice"\nUser-Password = "alice-pass"\n', wait=1
    )
    present = await nas.radclient(
        radius.auth,
        "auth",
        'User-Name = "alice"\nUser-Password = "alice-pass"\nMessage-Authenticator = 0x00\n',
    )

    assert missing.reply_code is None, missing.output
    assert radius.metrics.value("dropped", reason="missing_message_authenticator") == 1
    assert present.reply_code == "Access-Accept", present.output


async def test_without_the_requirement_a_request_without_message_authenticator_is_answered(
    nas, radius
):
    result = await nas.radclient(
        radius.auth, "auth", 'User-Name = "alice"\nUser-Password = "alice-pass"\n'
    )

    assert result.reply_code == "Access-Accept", result.output
    # the reply is signed all the same
    assert "Message-Authenticator" in result.attributes


async def test_proxy_state_comes_back_in_order(nas, radius):
    result = await nas.radclient(
        radius.auth,
        "auth",
        'User-Name = "alice"\nUser-Password = "alice-pass"\n'
        "Proxy-State = 0x6f6e65\nProxy-State = 0x74776f\n",
    )

    assert result.reply_code == "Access-Accept", result.output
    assert result.attributes["Proxy-State"] == ["0x6f6e65", "0x74776f"]


async def test_an_eap_request_is_refused(nas, radius):
    result = await nas.radclient(
        radius.auth,
        "auth",
        'User-Name = "alice"\nEAP-Message = 0x0201000a01616c696365\nMessage-Authenticator = 0x00\n',
    )

    assert result.reply_code == "Access-Reject", result.output
    assert result.first("Reply-Message") == "Authentication method not supported"
