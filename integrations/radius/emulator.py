"""A NAS's dynamic-authorization port (RFC 5176) for tests and local runs: it records the
CoA- and Disconnect-Requests it receives and answers ACK, NAK (with an Error-Cause) or
nothing, as configured. Requests signed with another secret are counted and ignored, as a
router would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.dictionary import decoded, load_dictionary
from pyrad.packet import CoAPacket, PacketError

Answer = Literal["ack", "nak", "ignore"]
_NAK = {wire.COA_REQUEST: wire.COA_NAK, wire.DISCONNECT_REQUEST: wire.DISCONNECT_NAK}
_KIND = {wire.COA_REQUEST: "coa", wire.DISCONNECT_REQUEST: "disconnect"}


@dataclass(frozen=True)
class ReceivedRequest:
    kind: str  # "coa" or "disconnect"
    identifier: int
    source: tuple[str, int]
    attributes: dict[str, list[Any]]
    had_message_authenticator: bool


@dataclass
class CoaListener:
    """`answer` and `error_cause` may be changed between requests."""

    secret: bytes = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0
    answer: Answer = "ack"
    error_cause: int = 503  # Session-Context-Not-Found
    received: list[ReceivedRequest] = field(default_factory=list)
    bad_secret: int = 0
    _transport: asyncio.DatagramTransport | None = field(default=None, repr=False)
    _arrived: asyncio.Condition | None = field(default=None, repr=False)

    async def start(self) -> CoaListener:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Condition()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _ListenerProtocol(self), local_addr=(self.host, self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def __aenter__(self) -> CoaListener:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def wait_for(self, count: int, within: float = 5.0) -> list[ReceivedRequest]:
        """The first `count` requests, once that many have arrived."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received) >= count), within
            )
        return self.received[:count]

    def _handle(self, data: bytes, addr) -> bytes | None:
        try:
            request = CoAPacket(packet=data, secret=self.secret, dict=load_dictionary())
        except PacketError:
            return None
        if request.code not in _KIND:
            return None
        if not request.VerifyCoARequest() or (
            request.message_authenticator and not request.verify_message_authenticator()
        ):
            self.bad_secret += 1
            return None
        self.received.append(
            ReceivedRequest(
                kind=_KIND[request.code],
                identifier=request.id,
                source=addr[:2],
                attributes=decoded(request),
                had_message_authenticator=bool(request.message_authenticator),
            )
        )
        asyncio.ensure_future(self._notify())
        if self.answer == "ignore":
            return None
        reply = request.CreateReply()
        if self.answer == "nak":
            reply.code = _NAK[request.code]
            reply.AddAttribute("Error-Cause", self.error_cause)
        return reply.ReplyPacket()

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()


class _ListenerProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: CoaListener) -> None:
        self.listener = listener
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        reply = self.listener._handle(data, addr)
        if reply is not None:
            self.transport.sendto(reply, addr)
