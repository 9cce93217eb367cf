"""What a hostile or broken network sends: garbage is dropped and counted while the server
keeps answering; a retransmission is answered from the reply cache (RFC 5080)."""

from __future__ import annotations

import os
import socket

import pytest
from kiunga.integrations.radius import wire
from kiunga.integrations.radius.dictionary import load_dictionary
from pyrad.packet import AuthPacket


def _access_request(*attributes: bytes, identifier: int = 9) -> bytes:
    body = b"".join(attributes)
    length = 20 + len(body)
    return bytes((wire.ACCESS_REQUEST, identifier)) + length.to_bytes(2) + os.urandom(16) + body


def _name(value: bytes = b"alice") -> bytes:
    return wire.attribute(wire.USER_NAME, value)


GARBAGE_FOR_AUTH = [
    b"",
    b"\x01\x02\x03",
    b"GET / HTTP/1.1\r\nHost: radius\r\n\r\n",
    bytes((1, 1, 0, 10)) + bytes(16),  # Length field under the header's 20
    bytes((1, 1, 0x13, 0x88)) + bytes(4980),  # Length 5000: over RFC 2865's 4096
    _access_request(_name(), b"\x02\x00"),  # attribute length 0
    _access_request(_name(), b"\x02\x01"),  # attribute length 1
    _access_request(_name(), b"\x02\x32abc"),  # attribute runs past the packet
    _access_request(_name(), b"\x01"),  # attribute header cut short
    _access_request(_name(), wire.attribute(wire.MESSAGE_AUTHENTICATOR, bytes(8))),
    _access_request(_name(), wire.attribute(wire.USER_PASSWORD, bytes(17))),
    _access_request(_name(), wire.attribute(wire.USER_PASSWORD, bytes(144))),
    _access_request(_name(), wire.attribute(wire.CHAP_PASSWORD, bytes(5))),
    _access_request(wire.attribute(wire.USER_PASSWORD, bytes(16))),  # no User-Name
]


def _accounting_request(secret: bytes, *attributes: bytes) -> bytes:
    return wire.sign_request(wire.ACCOUNTING_REQUEST, 3, b"".join(attributes), secret)


def garbage_for_acct(secret: bytes) -> list[bytes]:
    """Signed with the right secret, so that only their content is wrong."""
    start = wire.attribute(wire.ACCT_STATUS_TYPE, wire.integer(1))
    return [
        b"\x04",
        _accounting_request(secret, _name()),  # no Acct-Status-Type
        _accounting_request(secret, wire.attribute(wire.ACCT_STATUS_TYPE, b"\x00\x01")),
        _accounting_request(secret, wire.attribute(wire.ACCT_STATUS_TYPE, wire.integer(99))),
        _accounting_request(secret, start, wire.attribute(wire.NAS_IP_ADDRESS, b"\x0a\x00")),
        _accounting_request(secret, start, wire.attribute(wire.ACCT_INPUT_OCTETS, b"\x01")),
    ]


async def test_garbage_is_dropped_counted_and_the_server_keeps_answering(nas, radius):
    # a plain socket: asyncio's transports do not send empty datagrams
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind(("127.0.0.1", 0))
        for datagram in GARBAGE_FOR_AUTH:
            sender.sendto(datagram, radius.auth)
        for datagram in garbage_for_acct(radius.secret):
            sender.sendto(datagram, radius.acct)

        # queued behind the garbage on the same sockets
        access = await nas.radtest(radius.auth, "alice", "alice-pass")
        accounting = await nas.radclient(
            radius.acct, "acct", 'Acct-Status-Type = Start\nAcct-Session-Id = "after-garbage"\n'
        )

        sender.setblocking(False)
        with pytest.raises(BlockingIOError):
            sender.recv(4096)  # nothing was answered
    assert access.reply_code == "Access-Accept", access.output
    assert accounting.reply_code == "Accounting-Response", accounting.output
    malformed = len(GARBAGE_FOR_AUTH) + len(garbage_for_acct(radius.secret))
    assert radius.metrics.value("dropped", reason="malformed") == malformed
    assert radius.authorizer.calls == 1


async def test_a_packet_of_another_kind_on_the_auth_port_is_dropped(nas, radius, udp_peer):
    udp_peer.send(
        _accounting_request(wire.attribute(wire.ACCT_STATUS_TYPE, wire.integer(1))), radius.auth
    )
    result = await nas.radtest(radius.auth, "alice", "alice-pass")

    assert result.reply_code == "Access-Accept"
    assert radius.metrics.value("dropped", reason="unexpected_code") == 1


def _pyrad_request(secret: bytes, identifier: int) -> AuthPacket:
    request = AuthPacket(id=identifier, secret=secret, dict=load_dictionary(), User_Name="alice")
    request["User-Password"] = request.PwCrypt("alice-pass")
    request.add_message_authenticator()
    return request


async def test_a_retransmission_is_answered_from_the_cache(radius, udp_peer):
    request = _pyrad_request(radius.secret, 77)
    raw = request.RequestPacket()

    udp_peer.send(raw, radius.auth)
    first = await udp_peer.reply()
    udp_peer.send(raw, radius.auth)
    second = await udp_peer.reply()

    assert first == second
    assert radius.authorizer.calls == 1
    assert radius.metrics.value("duplicates", port="auth") == 1
    # pyrad, an independent implementation, accepts the reply's authenticators
    reply = request.CreateReply(packet=first)
    assert reply.code == wire.ACCESS_ACCEPT
    assert request.VerifyReply(reply, first, enforce_ma=True)
    assert reply["Mikrotik-Rate-Limit"] == ["10M/5M"]


async def test_the_same_identifier_with_a_new_authenticator_is_a_new_request(radius, udp_peer):
    for _ in range(2):
        request = _pyrad_request(radius.secret, 78)
        raw = request.RequestPacket()
        udp_peer.send(raw, radius.auth)
        reply = await udp_peer.reply()
        assert request.VerifyReply(request.CreateReply(packet=reply), reply, enforce_ma=True)

    assert radius.authorizer.calls == 2
    assert radius.metrics.value("duplicates", port="auth") == 0


async def test_status_server_is_answered(nas, radius):
    result = await nas.radclient(radius.auth, "status", "Message-Authenticator = 0x00\n")

    assert result.reply_code == "Access-Accept", result.output
