"""`kiunga serve` closes connections whose request headers or body arrive too slowly
(a slowloris holds no connection for ever), and answers quick clients meanwhile."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from fixtures.served import kiunga_serve

# How long the test waits for the server to give up on a slow client: far beyond the
# 1-2 s deadlines the server is started with, so a busy machine does not matter.
PATIENCE_SECONDS = 45


@pytest.fixture(scope="module")
def strict_server(settings_env):
    with kiunga_serve(settings_env, "--header-timeout", "1", "--body-timeout", "2") as base:
        yield base


def _connect(base: str) -> socket.socket:
    address = urlsplit(base)
    connection = socket.create_connection((address.hostname, address.port))
    connection.settimeout(PATIENCE_SECONDS)
    return connection


def _read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received


def test_headers_that_never_finish_get_408_and_a_closed_connection(strict_server):
    with _connect(strict_server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = _read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_connection_that_sends_nothing_is_closed(strict_server):
    with _connect(strict_server) as connection:
        assert _read_until_closed(connection).startswith(b"HTTP/1.1 408")


def test_a_body_that_never_finishes_closes_the_connection(strict_server):
    with _connect(strict_server) as connection:
        connection.sendall(
            b"POST /api/v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name": '
        )
        assert b"HTTP/1.1 2" not in _read_until_closed(connection)
    # Quick clients are still served.
    assert httpx.get(f"{strict_server}/healthz", timeout=PATIENCE_SECONDS).status_code == 200
