"""The RADIUS server: Access-Requests on one UDP socket, Accounting-Requests on another,
for every ISP at once (the NAS's source address says which).

Anything that does not come from a known NAS with the right secret, or cannot be read, is
dropped unanswered and counted (`RadiusMetrics`). Replies are kept a few seconds by the
request's source, identifier and authenticator, so a NAS's retransmission gets the same
answer without being processed twice (RFC 5080 section 2.2.2).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.accounting import read_record
from kiunga.integrations.radius.interfaces import (
    AccountingRecord,
    AccountingSink,
    Authorization,
    Authorizer,
    ClientDirectory,
    RadiusClient,
    RejectReason,
)
from kiunga.integrations.radius.metrics import RadiusMetrics
from kiunga.integrations.radius.replies import reject_attributes

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = 5.0
RECEIVE_BUFFER = 8 * 1024 * 1024
RECEIVE_SIZE = wire.MAX_PACKET + 1  # one more octet shows an oversized datagram
DRAIN_BURST = 64
_PENDING = b""  # an accounting request whose record the sink has not yet taken
_ZERO16 = bytes(16)


def _proxy_attributes(proxy_states: list[bytes] | None) -> bytes:
    if not proxy_states:
        return b""
    return b"".join(wire.attribute(wire.PROXY_STATE, value) for value in proxy_states)


def _drain(recvfrom, receive) -> None:
    """Read what else is already queued on the socket. asyncio reads one datagram per
    readiness event; under load, reading a burst per event saves a poll per packet."""
    for _ in range(DRAIN_BURST):
        try:
            data, addr = recvfrom(RECEIVE_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # e.g. ICMP errors reported on the socket
            log.debug("RADIUS socket error: %s", exc)
            return
        receive(data, addr)


class RecentReplies:
    """Replies by (source, identifier, request authenticator), kept between `window` and
    twice `window` seconds: two generations swapped by a timer, so the hot path only does
    dictionary look-ups and inserts. A generation that reaches `max_entries` (a flood) is
    swapped early, which shortens the window rather than growing memory."""

    def __init__(self, window: float = DUPLICATE_WINDOW, max_entries: int = 500_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._current: dict[tuple, bytes] = {}
        self._previous: dict[tuple, bytes] = {}
        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = loop.call_later(self.window, self._rotate, loop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _rotate(self, loop: asyncio.AbstractEventLoop) -> None:
        self._previous = self._current
        self._current = {}
        self._timer = loop.call_later(self.window, self._rotate, loop)

    def get(self, key: tuple) -> bytes | None:
        reply = self._current.get(key)
        return reply if reply is not None else self._previous.get(key)

    def put(self, key: tuple, reply: bytes) -> None:
        current = self._current
        if len(current) >= self.max_entries:
            self._previous = current
            current = self._current = {}
        current[key] = reply

    def forget(self, key: tuple) -> None:
        self._current.pop(key, None)
        self._previous.pop(key, None)

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)


class AuthProtocol(asyncio.DatagramProtocol):
    """Access-Requests (PAP, CHAP) and Status-Server on the authentication port."""

    def __init__(
        self,
        directory: ClientDirectory,
        authorizer: Authorizer,
        metrics: RadiusMetrics,
        recent: RecentReplies,
        sock: socket.socket | None = None,
    ) -> None:
        self._recvfrom = sock.recvfrom if sock is not None else None
        self._sock_sendto = sock.sendto if sock is not None else None
        self._lookup = directory.lookup
        self._authorize = authorizer.authorize
        self._metrics = metrics
        self._access = metrics.access
        self._dropped = metrics.dropped
        self._recent = recent

    def connection_made(self, transport) -> None:
        self._transport_sendto = transport.sendto
        if self._sock_sendto is None:
            self._sendto = transport.sendto

    def _sendto(self, reply: bytes, addr) -> None:
        # Straight to the socket: the transport's sendto adds checks and a buffer that an
        # idle UDP socket does not need; it takes over when the socket is full.
        try:
            self._sock_sendto(reply, addr)
        except (BlockingIOError, InterruptedError):
            self._transport_sendto(reply, addr)
        except OSError as exc:
            log.debug("reply to %s not sent: %s", addr, exc)

    def error_received(self, exc: Exception) -> None:
        log.debug("RADIUS auth socket error: %s", exc)

    def datagram_received(self, data: bytes, addr) -> None:
        self._receive(data, addr)
        if self._recvfrom is not None:
            _drain(self._recvfrom, self._receive)

    def _receive(self, data: bytes, addr) -> None:
        try:
            reply = self._answer(data, addr)
        except wire.Malformed as why:
            log.debug("malformed Access-Request from %s: %s", addr, why)
            self._dropped["malformed"] += 1
            return
        except Exception:
            log.exception("Access-Request from %s failed", addr)
            self._dropped["error"] += 1
            return
        if reply is not None:
            self._sendto(reply, addr)

    def _answer(self, data: bytes, addr) -> bytes | None:
        client = self._lookup(addr[0])
        if client is None:
            self._dropped["unknown_client"] += 1
            return None
        code, _, data = wire.header(data)
        authenticator = data[4:20]
        key = (addr, data[1], authenticator)
        recent = self._recent.get(key)
        if recent is not None:
            self._metrics.duplicates["auth"] += 1
            return recent
        if code != wire.ACCESS_REQUEST:
            if code == wire.STATUS_SERVER:
                return self._status_server(client, data, authenticator)
            self._dropped["unexpected_code"] += 1
            return None
        attributes, ma_at, proxy_states = wire.parse_attributes(data)
        secret = client.secret
        if ma_at:
            if not wire.message_authenticator_ok(data, ma_at, secret, authenticator):
                self._dropped["bad_authenticator"] += 1
                return None
        elif client.require_message_authenticator:
            self._dropped["missing_message_authenticator"] += 1
            return None
        username = attributes.get(wire.USER_NAME)
        if username is None:
            raise wire.Malformed("Access-Request without User-Name")
        cipher = attributes.get(wire.USER_PASSWORD)
        given = None
        if cipher is not None:
            given = wire.pap_decrypt(secret, authenticator, cipher)
            if given is None:
                # non-zero padding: decrypted with another secret than the NAS's
                self._dropped["bad_authenticator"] += 1
                return None
        elif wire.CHAP_PASSWORD in attributes:
            if len(attributes[wire.CHAP_PASSWORD]) != 17:
                raise wire.Malformed("CHAP-Password is not 17 octets")
        else:
            # EAP and the rest are not spoken here: refuse rather than guess.
            code, reply_attributes = self._reject(RejectReason.UNSUPPORTED_METHOD, None)
            return self._reply(
                key, code, data[1], authenticator, reply_attributes, proxy_states, secret
            )
        decision = self._authorize(client, username.decode("utf-8", "replace"))
        if isinstance(decision, Authorization):
            if self._password_ok(attributes, given, authenticator, decision.password):
                self._access["accept"] += 1
                code, reply_attributes = wire.ACCESS_ACCEPT, decision.wire_attributes
            else:
                code, reply_attributes = self._reject(RejectReason.WRONG_PASSWORD, None)
        else:
            reason, message = decision.reason, decision.message
            if decision.password is not None and not self._password_ok(
                attributes, given, authenticator, decision.password
            ):
                reason, message = RejectReason.WRONG_PASSWORD, None
            code, reply_attributes = self._reject(reason, message)
        return self._reply(
            key, code, data[1], authenticator, reply_attributes, proxy_states, secret
        )

    def _reply(self, key, code, identifier, authenticator, attributes, proxy_states, secret):
        if proxy_states:
            attributes += _proxy_attributes(proxy_states)
        reply = wire.sign_reply(code, identifier, authenticator, attributes, secret)
        self._recent.put(key, reply)
        return reply

    def _reject(self, reason: RejectReason, message: str | None) -> tuple[int, bytes]:
        self._access["reject"] += 1
        rejects = self._metrics.rejects
        name = reason.name.lower()
        rejects[name] = rejects.get(name, 0) + 1
        return wire.ACCESS_REJECT, reject_attributes(message or reason.value)

    @staticmethod
    def _password_ok(
        attributes: dict[int, bytes], given: bytes | None, authenticator: bytes, password: bytes
    ) -> bool:
        if given is not None:
            return len(given) == len(password) and hmac.compare_digest(given, password)
        challenge = attributes.get(wire.CHAP_CHALLENGE, authenticator)
        return wire.chap_ok(attributes[wire.CHAP_PASSWORD], challenge, password)

    def _status_server(self, client: RadiusClient, data: bytes, authenticator: bytes):
        # RFC 5997: a Status-Server must carry a Message-Authenticator.
        _, ma_at, _ = wire.parse_attributes(data)
        if not ma_at or not wire.message_authenticator_ok(
            data, ma_at, client.secret, authenticator
        ):
            self._dropped["bad_authenticator"] += 1
            return None
        return wire.sign_reply(wire.ACCESS_ACCEPT, data[1], authenticator, b"", client.secret)


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
            _drain(self._recvfrom, self._receive)

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
        reply_attributes = _proxy_attributes(proxy_states)
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


def bind_udp(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            pass
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


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
