"""The RADIUS server: Access-Requests on one UDP socket, Accounting-Requests on another,
for every ISP at once (the NAS's source address says which).

Anything that does not come from a known NAS with the right secret, or cannot be read, is
dropped unanswered and counted (`RadiusMetrics`). Replies are kept a few seconds by the
request's source, identifier and authenticator, so a NAS's retransmission gets the same
answer without being processed twice (RFC 5080 section 2.2.2).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.access import AuthProtocol
from kiunga.integrations.radius.accounting import read_record
from kiunga.integrations.radius.interfaces import (
    AccountingRecord,
    AccountingSink,
    Authorizer,
    ClientDirectory,
)
from kiunga.integrations.radius.metrics import RadiusMetrics
from kiunga.integrations.radius.replies import DUPLICATE_WINDOW, RecentReplies, proxy_attributes
from kiunga.integrations.radius.sockets import bind_udp, drain

log = logging.getLogger(__name__)

_PENDING = b""  # an accounting request whose record the sink has not yet taken
_ZERO16 = bytes(16)

__all__ = ["AcctProtocol", "AuthProtocol", "RadiusServer", "bind_udp"]


class AcctProtocol(asyncio.DatagramProtocol):
    """Accounting-Requests: checked, read into an `AccountingRecord`, handed to the sink,
    answered once the sink has taken the record."""

    def __init__(
        self,
        directory: ClientDirectory,
        sink: AccountingSink,
        metrics: RadiusMetrics,
        recent: RecentReplies,
        sock: socket.socket | None = None,
    ) -> None:
        self._recvfrom = sock.recvfrom if sock is not None else None
        self._lookup = directory.lookup
        self._sink = sink
        self._metrics = metrics
        self._dropped = metrics.dropped
        self._recent = recent
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport) -> None:
        self._transport = transport

    def error_received(self, exc: Exception) -> None:
        log.debug("RADIUS accounting socket error: %s", exc)

    def datagram_received(self, data: bytes, addr) -> None:
        self._receive(data, addr)
        if self._recvfrom is not None:
            drain(self._recvfrom, self._receive)

    def _receive(self, data: bytes, addr) -> None:
        try:
            self._account_later(data, addr)
        except wire.Malformed as why:
            log.debug("malformed Accounting-Request from %s: %s", addr, why)
            self._dropped["malformed"] += 1
        except Exception:
            log.exception("Accounting-Request from %s failed", addr)
            self._dropped["error"] += 1

    def _account_later(self, data: bytes, addr) -> None:
        client = self._lookup(addr[0])
        if client is None:
            self._dropped["unknown_client"] += 1
            return
        code, _, data = wire.header(data)
        if code != wire.ACCOUNTING_REQUEST:
            self._dropped["unexpected_code"] += 1
            return
        authenticator = data[4:20]
        key = (addr, data[1], authenticator)
        recent = self._recent.get(key)
        if recent is not None:
            if recent:
                self._metrics.duplicates["acct"] += 1
                self._transport.sendto(recent, addr)
            else:
                self._dropped["in_progress"] += 1
            return
        attributes, ma_at, proxy_states = wire.parse_attributes(data)
        secret = client.secret
        if not wire.request_authenticator_ok(data, secret) or (
            ma_at and not wire.message_authenticator_ok(data, ma_at, secret, _ZERO16)
        ):
            self._dropped["bad_authenticator"] += 1
            return
        record = read_record(client, addr[0], attributes)
        self._recent.put(key, _PENDING)
        reply_attributes = proxy_attributes(proxy_states)
        task = asyncio.ensure_future(
            self._account(record, key, addr, (data[1], authenticator, reply_attributes, secret))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _account(self, record: AccountingRecord, key: tuple, addr, reply: tuple) -> None:
        try:
            accepted = await self._sink.accept(record)
        except Exception:
            log.exception("the accounting sink failed on %s", record.session_id)
            accepted = False
        if not accepted:
            self._recent.forget(key)
            self._dropped["sink_refused"] += 1
            return
        identifier, authenticator, attributes, secret = reply
        response = wire.sign_response(
            wire.ACCOUNTING_RESPONSE, identifier, authenticator, attributes, secret
        )
        self._recent.put(key, response)
        accounting = self._metrics.accounting
        status = record.status.name.lower()
        accounting[status] = accounting.get(status, 0) + 1
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(response, addr)

    async def drain(self) -> None:
        """Wait for the records being handed to the sink."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class RadiusServer:
    """Both ports of one server process, inside a running event loop.

    Port 0 binds a free port (tests); `auth_address` and `acct_address` tell which. Ready-
    bound sockets can be given instead (the multi-process runner does so).
    """

    def __init__(
        self,
        directory: ClientDirectory,
        authorizer: Authorizer,
        sink: AccountingSink,
        *,
        host: str = "127.0.0.1",
        auth_port: int = 1812,
        acct_port: int = 1813,
        metrics: RadiusMetrics | None = None,
        duplicate_window: float = DUPLICATE_WINDOW,
        auth_socket: socket.socket | None = None,
        acct_socket: socket.socket | None = None,
    ) -> None:
        self.directory = directory
        self.authorizer = authorizer
        self.sink = sink
        self.host = host
        self.metrics = metrics or RadiusMetrics()
        self._ports = (auth_port, acct_port)
        self._sockets = (auth_socket, acct_socket)
        self.recent_auth = RecentReplies(duplicate_window)
        self.recent_acct = RecentReplies(duplicate_window)
        self._transports: list[asyncio.DatagramTransport] = []
        self._acct: AcctProtocol | None = None

    async def start(self) -> RadiusServer:
        loop = asyncio.get_running_loop()
        auth_socket, acct_socket = self._sockets
        if auth_socket is None:
            auth_socket = bind_udp(self.host, self._ports[0])
        if acct_socket is None:
            acct_socket = bind_udp(self.host, self._ports[1])
        auth, _ = await loop.create_datagram_endpoint(
            lambda: AuthProtocol(
                self.directory, self.authorizer, self.metrics, self.recent_auth, auth_socket
            ),
            sock=auth_socket,
        )
        acct, self._acct = await loop.create_datagram_endpoint(
            lambda: AcctProtocol(
                self.directory, self.sink, self.metrics, self.recent_acct, acct_socket
            ),
            sock=acct_socket,
        )
        self._transports = [auth, acct]
        self.recent_auth.start(loop)
        self.recent_acct.start(loop)
        return self

    @property
    def auth_address(self) -> tuple[str, int]:
        return self._transports[0].get_extra_info("sockname")[:2]

    @property
    def acct_address(self) -> tuple[str, int]:
        return self._transports[1].get_extra_info("sockname")[:2]

    async def close(self) -> None:
        for transport in self._transports:
            transport.close()
        self.recent_auth.stop()
        self.recent_acct.stop()
        if self._acct is not None:
            await self._acct.drain()

    async def __aenter__(self) -> RadiusServer:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
