"""Where "test connection" (and provisioning) may connect when an ISP names a router: in
production never this machine, link-local or a cloud's metadata service, whether typed as
an address or as a host name that resolves to one; private ranges as the platform setting
says. And a router that does not answer is told in the same words however its port
behaves, so the check cannot map another network."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from kiunga.tenants.network import status
from kiunga.tenants.network.reach import checked_address
from kiunga.tenants.network.validation import RouterError

from .conftest import api_router, production


@pytest.mark.parametrize(
    "address", ["localhost", "127.0.0.1", "::ffff:127.0.0.1", "::1", "169.254.169.254"]
)
async def test_in_production_a_router_cannot_be_this_machine_or_metadata(api, mikrotik, address):
    made = await api.post(
        "/api/v1/routers", json=api_router(mikrotik.port, address=address, name=address)
    )
    assert made.status_code == 201, made.text
    with production():
        refused = await api.post(f"/api/v1/routers/{made.json()['id']}/test-connection")
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "address"
    assert mikrotik.state.login_attempts == [] and mikrotik.state.commands == []

    # Outside production the emulated routers live on loopback: the same router answers.
    if address in ("localhost", "127.0.0.1"):
        checked = await api.post(f"/api/v1/routers/{made.json()['id']}/test-connection")
        assert checked.json()["ok"] is True, checked.text


async def test_private_ranges_follow_the_platform_setting():
    private = ["10.20.30.40", "172.16.5.1", "192.168.88.1", "100.64.0.9", "fd12:3456::1"]
    metadata = ["169.254.169.254", "100.100.100.200", "fd00:ec2::254", "169.254.170.2"]
    with production():
        for address in private:
            assert await checked_address(address) == address
        assert await checked_address("8.8.8.8") == "8.8.8.8"
        for address in [*metadata, "127.0.0.53", "0.0.0.0", "::", "224.0.0.1", "fe80::1"]:
            with pytest.raises(RouterError) as refused:
                await checked_address(address)
            assert refused.value.field == "address"
    with production(router_private_addresses="false"):
        for address in [*private, *metadata]:
            with pytest.raises(RouterError):
                await checked_address(address)
        assert await checked_address("8.8.8.8") == "8.8.8.8"
    # Outside production nothing is resolved or refused.
    assert await checked_address("localhost") == "localhost"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port where connections are accepted (by the kernel) and nothing ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def _answering(reply: bytes) -> Iterator[int]:
    """A port where something other than RouterOS answers `reply` and hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except OSError:
                return
            with peer:
                peer.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    # close() alone does not wake a thread blocked in accept(); shutdown() does.
    with contextlib.suppress(OSError):
        server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(5)


@pytest.fixture
def web_port() -> Iterator[int]:
    yield from _answering(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def garbled_port() -> Iterator[int]:
    yield from _answering(b"\x01\xff\x00")  # a sentence whose word is not UTF-8


@pytest.fixture
def empty_sentence_port() -> Iterator[int]:
    yield from _answering(b"\x00")  # a sentence without a single word


async def test_closed_silent_and_foreign_ports_are_told_alike(
    api, tenant, database, closed_port, silent_port, web_port, garbled_port, empty_sentence_port
):
    messages = {}
    for name, port in [
        ("closed", closed_port),
        ("silent", silent_port),
        ("web", web_port),
        ("garbled", garbled_port),
        ("empty", empty_sentence_port),
    ]:
        made = await api.post("/api/v1/routers", json=api_router(port, name=name))
        result = await status.check_router(
            database, tenant.schema, made.json()["id"], timeout_seconds=1.5
        )
        assert result.ok is False
        messages[name] = result.message.replace(str(port), "PORT")
    assert set(messages.values()) == {"Unreachable: no RouterOS API answered at 127.0.0.1:PORT"}
