"""Access-Requests (PAP, CHAP) and Status-Server on the authentication port."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import socket

from kiunga.integrations.radius import wire
from kiunga.integrations.radius.interfaces import (
    Authorization,
    Authorizer,
    ClientDirectory,
    RadiusClient,
    Rejection,
    RejectReason,
)
from kiunga.integrations.radius.metrics import RadiusMetrics
from kiunga.integrations.radius.replies import RecentReplies, proxy_attributes, reject_attributes
from kiunga.integrations.radius.sockets import drain

log = logging.getLogger(__name__)

_PENDING = b""  # a request whose decision is being looked up


class AuthProtocol(asyncio.DatagramProtocol):
    """Reads an Access-Request, checks who sent it and the password, answers."""

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
            drain(self._recvfrom, self._receive)

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
            if not recent:  # its decision is still being looked up
                self._dropped["in_progress"] += 1
                return None
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
        station = attributes.get(wire.CALLING_STATION_ID)
        decision = self._authorize(
            client,
            username.decode("utf-8", "replace"),
            None if station is None else station.decode("ascii", "replace"),
        )
        request = (key, data[1], authenticator, attributes, given, proxy_states, secret)
        if isinstance(decision, asyncio.Future):
            # Looked up off the hot path: retransmissions meanwhile are dropped, and the
            # request is answered when the decision is known.
            self._recent.put(key, _PENDING)
            decision.add_done_callback(functools.partial(self._answer_later, request, addr))
            return None
        return self._conclude(decision, request)

    def _answer_later(self, request: tuple, addr, decided: asyncio.Future) -> None:
        try:
            reply = self._conclude(decided.result(), request)
        except Exception:
            log.exception("Access-Request from %s failed", addr)
            self._dropped["error"] += 1
            self._recent.forget(request[0])
            return
        self._sendto(reply, addr)

    def _conclude(self, decision: Authorization | Rejection, request: tuple) -> bytes:
        key, identifier, authenticator, attributes, given, proxy_states, secret = request
        if isinstance(decision, Authorization):
            if self._password_ok(attributes, given, authenticator, decision.password):
                self._access["accept"] += 1
                code, reply_attributes = wire.ACCESS_ACCEPT, decision.wire_attributes
                if decision.on_accept is not None:
                    try:
                        decision.on_accept()
                    except Exception:  # noting it must not cost the subscriber the login
                        log.exception("after an Access-Accept")
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
            key, code, identifier, authenticator, reply_attributes, proxy_states, secret
        )

    def _reply(self, key, code, identifier, authenticator, attributes, proxy_states, secret):
        if proxy_states:
            attributes += proxy_attributes(proxy_states)
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
