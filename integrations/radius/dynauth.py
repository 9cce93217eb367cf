"""Dynamic authorization (RFC 5176): CoA-Request and Disconnect-Request to a NAS.

A request is retransmitted unchanged (same identifier and authenticator, so the NAS can
recognise the repeat) every `retry_after` seconds, `attempts` times in all. The result says
whether the NAS acknowledged it, refused it (with its Error-Cause), or never answered.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from dataclasses import dataclass, field
from typing import Any

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.dictionary import (
    Attributes,
    add_attributes,
    decoded,
    load_dictionary,
)
from pyrad.packet import CoAPacket, PacketError

COA_PORT = 3799


class DynAuthOutcome(enum.Enum):
    ACK = "ack"
    NAK = "nak"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class DynAuthResult:
    outcome: DynAuthOutcome
    attempts: int
    error_cause: int | None = None  # from a NAK (RFC 5176 3.5), e.g. 503 no such session
    attributes: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def acked(self) -> bool:
        return self.outcome is DynAuthOutcome.ACK

    @property
    def error_cause_name(self) -> str | None:
        if self.error_cause is None:
            return None
        try:
            names = load_dictionary().attributes["Error-Cause"].values
            return names.GetBackward(self.error_cause.to_bytes(4))
        except KeyError:
            return None


async def send_coa(
    nas_address: str,
    secret: bytes,
    attributes: Attributes,
    *,
    port: int = COA_PORT,
    retry_after: float = 2.0,
    attempts: int = 3,
    message_authenticator: bool = True,
) -> DynAuthResult:
    """Change a live session's authorization (e.g. a new Mikrotik-Rate-Limit)."""
    request = _request(wire.COA_REQUEST, secret, attributes, message_authenticator)
    return await _exchange(request, nas_address, port, retry_after, attempts)


async def send_disconnect(
    nas_address: str,
    secret: bytes,
    attributes: Attributes,
    *,
    port: int = COA_PORT,
    retry_after: float = 2.0,
    attempts: int = 3,
    message_authenticator: bool = True,
) -> DynAuthResult:
    """End a live session (identified by User-Name, Acct-Session-Id, Framed-IP-Address…)."""
    request = _request(wire.DISCONNECT_REQUEST, secret, attributes, message_authenticator)
    return await _exchange(request, nas_address, port, retry_after, attempts)


_ACK = {wire.COA_REQUEST: wire.COA_ACK, wire.DISCONNECT_REQUEST: wire.DISCONNECT_ACK}
_NAK = {wire.COA_REQUEST: wire.COA_NAK, wire.DISCONNECT_REQUEST: wire.DISCONNECT_NAK}


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, request: CoAPacket) -> None:
        self.request = request
        self.reply: asyncio.Future[CoAPacket] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr) -> None:
        if self.reply.done():
            return
        try:
            reply = self.request.CreateReply(packet=data)
        except PacketError:
            return
        # VerifyReply checks identifier, Response Authenticator and Message-Authenticator.
        if reply.code in (_ACK[self.request.code], _NAK[self.request.code]) and (
            self.request.VerifyReply(reply, data)
        ):
            self.reply.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: keep waiting, a retry may get through.
        pass


def _request(
    code: int, secret: bytes, attributes: Attributes, message_authenticator: bool
) -> CoAPacket:
    request = CoAPacket(code=code, id=secrets.randbelow(256), secret=secret, dict=load_dictionary())
    if message_authenticator:
        request.add_message_authenticator()
    add_attributes(request, attributes)
    return request


async def _exchange(
    request: CoAPacket, nas_address: str, port: int, retry_after: float, attempts: int
) -> DynAuthResult:
    raw = request.RequestPacket()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _Exchange(request), remote_addr=(nas_address, port)
    )
    try:
        for attempt in range(1, max(1, attempts) + 1):
            transport.sendto(raw)
            try:
                reply = await asyncio.wait_for(asyncio.shield(protocol.reply), retry_after)
            except TimeoutError:
                continue
            return _result(request, reply, attempt)
        return DynAuthResult(DynAuthOutcome.TIMEOUT, attempts=max(1, attempts))
    finally:
        transport.close()


def _result(request: CoAPacket, reply: CoAPacket, attempt: int) -> DynAuthResult:
    raw_cause = reply.get(wire.ERROR_CAUSE)
    cause = int.from_bytes(raw_cause[0]) if raw_cause and len(raw_cause[0]) == 4 else None
    outcome = DynAuthOutcome.ACK if reply.code == _ACK[request.code] else DynAuthOutcome.NAK
    return DynAuthResult(outcome, attempt, cause, decoded(reply))
