"""Replies: an Access-Accept's attributes from an `Authorization` (encoded once, when the
authorization is made), an Access-Reject's Reply-Message, Proxy-State sent back, and the
cache that answers a retransmission with the reply already sent (RFC 5080 section 2.2.2)."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING

from kiunga.integrations.radius import wire

if TYPE_CHECKING:
    from kiunga.integrations.radius.interfaces import Authorization


def accept_attributes(authorization: Authorization) -> bytes:
    """Access-Accept attributes; `Authorization` keeps them encoded from its creation."""
    parts = []
    if authorization.rate_limit:
        parts.append(
            wire.vendor_attribute(
                wire.MIKROTIK, wire.MIKROTIK_RATE_LIMIT, wire.text(authorization.rate_limit)
            )
        )
    if authorization.session_timeout is not None:
        parts.append(
            wire.attribute(wire.SESSION_TIMEOUT, wire.integer(authorization.session_timeout))
        )
    if authorization.idle_timeout is not None:
        parts.append(wire.attribute(wire.IDLE_TIMEOUT, wire.integer(authorization.idle_timeout)))
    if authorization.total_limit_bytes is not None:
        low = authorization.total_limit_bytes & 0xFFFFFFFF
        high = authorization.total_limit_bytes >> 32
        parts.append(
            wire.vendor_attribute(wire.MIKROTIK, wire.MIKROTIK_TOTAL_LIMIT, wire.integer(low))
        )
        if high:
            parts.append(
                wire.vendor_attribute(
                    wire.MIKROTIK, wire.MIKROTIK_TOTAL_LIMIT_GIGAWORDS, wire.integer(high)
                )
            )
    if authorization.framed_ip:
        parts.append(wire.attribute(wire.FRAMED_IP_ADDRESS, wire.ipv4(authorization.framed_ip)))
    if authorization.address_list:
        parts.append(
            wire.vendor_attribute(
                wire.MIKROTIK, wire.MIKROTIK_ADDRESS_LIST, wire.text(authorization.address_list)
            )
        )
    if authorization.group:
        parts.append(
            wire.vendor_attribute(
                wire.MIKROTIK, wire.MIKROTIK_GROUP, wire.text(authorization.group)
            )
        )
    if authorization.acct_interim_interval is not None:
        parts.append(
            wire.attribute(
                wire.ACCT_INTERIM_INTERVAL, wire.integer(authorization.acct_interim_interval)
            )
        )
    if authorization.reply_message:
        parts.append(wire.attribute(wire.REPLY_MESSAGE, _truncated(authorization.reply_message)))
    return b"".join(parts)


@functools.lru_cache(maxsize=4096)
def reject_attributes(message: str) -> bytes:
    return wire.attribute(wire.REPLY_MESSAGE, _truncated(message))


def _truncated(message: str) -> bytes:
    return message.encode()[: wire.MAX_VALUE].decode("utf-8", "ignore").encode()


def proxy_attributes(proxy_states: list[bytes] | None) -> bytes:
    if not proxy_states:
        return b""
    return b"".join(wire.attribute(wire.PROXY_STATE, value) for value in proxy_states)


DUPLICATE_WINDOW = 5.0


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
