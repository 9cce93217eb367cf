"""Reply attributes on the wire: an Access-Accept's from an `Authorization` (encoded once,
when the authorization is made), an Access-Reject's Reply-Message."""

from __future__ import annotations

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
