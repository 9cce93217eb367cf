"""UDP sockets for the server: binding, and reading what is already queued."""

from __future__ import annotations

import logging
import socket

from kiunga.integrations.radius import wire

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 8 * 1024 * 1024
RECEIVE_SIZE = wire.MAX_PACKET + 1  # one more octet shows an oversized datagram
DRAIN_BURST = 64


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


def drain(recvfrom, receive) -> None:
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
