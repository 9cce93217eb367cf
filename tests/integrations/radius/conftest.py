"""A RADIUS server on free ports inside the test's event loop, with an in-memory directory
and authorizer, and Debian's radclient/radtest as the NAS (run as subprocesses, so the
server keeps answering while they wait)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from kiunga.integrations.radius.accounting import BatchingSink
from kiunga.integrations.radius.interfaces import (
    AccountingRecord,
    Authorization,
    RadiusClient,
    Rejection,
    RejectReason,
)
from kiunga.integrations.radius.memory import StaticAuthorizer, StaticDirectory
from kiunga.integrations.radius.server import RadiusServer

SECRET = "testing123"
TENANT = "isp-one"

if shutil.which("radclient") is None:  # pragma: no cover - the test image installs it
    pytest.skip("radclient (freeradius-utils) is not installed", allow_module_level=True)


@dataclass
class RadclientResult:
    returncode: int
    output: str
    reply_code: str | None = None  # "Access-Accept", "Accounting-Response", …
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str:
        return self.attributes[name][0]


_RECEIVED = re.compile(r"^Received (\S+) Id \d+")
_ATTRIBUTE = re.compile(r"^\s+([A-Za-z0-9-]+) = (.*)$")


def parse_radclient(returncode: int, output: str) -> RadclientResult:
    """The reply radclient -x printed: its code and attributes (quotes removed)."""
    result = RadclientResult(returncode, output)
    in_reply = False
    for line in output.splitlines():
        received = _RECEIVED.match(line)
        if received:
            result.reply_code = received.group(1)
            result.attributes = {}
            in_reply = True
            continue
        if line.startswith(("Sent ", "(")) or not line.strip():
            in_reply = False
            continue
        attribute = _ATTRIBUTE.match(line)
        if in_reply and attribute:
            value = attribute.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            result.attributes.setdefault(attribute.group(1), []).append(value)
    return result


async def run_tool(*argv: str, stdin: str | None = None) -> RadclientResult:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate(stdin.encode() if stdin is not None else None)
    return parse_radclient(process.returncode, output.decode(errors="replace"))


async def radclient(
    address: tuple[str, int],
    kind: str,
    attributes: str,
    *,
    secret: str = SECRET,
    wait: int = 2,
    retries: int = 1,
) -> RadclientResult:
    """One request read from `attributes` (radclient's "Name = value" lines)."""
    host, port = address
    return await run_tool(
        "radclient",
        "-x",
        "-t",
        str(wait),
        "-r",
        str(retries),
        f"{host}:{port}",
        kind,
        secret,
        stdin=attributes,
    )


async def radtest(
    address: tuple[str, int],
    user: str,
    password: str,
    *,
    secret: str = SECRET,
    method: str = "pap",
) -> RadclientResult:
    host, port = address
    return await run_tool("radtest", "-t", method, user, password, f"{host}:{port}", "0", secret)


@pytest.fixture
def nas():
    """Debian's RADIUS tools: `nas.radtest(...)`, `nas.radclient(...)`, `nas.run(...)`."""
    return SimpleNamespace(radtest=radtest, radclient=radclient, run=run_tool)


class RecordingFlush:
    """The BatchingSink's flush callback: keeps every batch, and wakes waiters."""

    def __init__(self) -> None:
        self.batches: list[list[AccountingRecord]] = []
        self._changed = asyncio.Condition()

    @property
    def records(self) -> list[AccountingRecord]:
        return [record for batch in self.batches for record in batch]

    async def __call__(self, batch: Sequence[AccountingRecord]) -> None:
        async with self._changed:
            self.batches.append(list(batch))
            self._changed.notify_all()

    async def wait_for(self, count: int, within: float = 15.0) -> list[AccountingRecord]:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.records) >= count), within
            )
        return self.records


@dataclass
class Radius:
    server: RadiusServer
    directory: StaticDirectory
    authorizer: StaticAuthorizer
    sink: BatchingSink
    flushed: RecordingFlush

    @property
    def auth(self) -> tuple[str, int]:
        return self.server.auth_address

    @property
    def acct(self) -> tuple[str, int]:
        return self.server.acct_address

    @property
    def secret(self) -> bytes:
        return SECRET.encode()

    @property
    def metrics(self):
        return self.server.metrics

    def client(self, **changes) -> RadiusClient:
        client = RadiusClient(SECRET.encode(), TENANT, "router-1", **changes)
        self.directory.add("127.0.0.1", client)
        return client


ALICE = Authorization(
    password=b"alice-pass",
    rate_limit="10M/5M",
    session_timeout=3600,
    total_limit_bytes=6 * 2**30,  # 6 GiB: 2 GiB in Total-Limit, 1 in the gigawords
    framed_ip="10.20.0.7",
)
BOB = Authorization(password=b"bob-pass", rate_limit="2M/2M", total_limit_bytes=1_000_000)


@asynccontextmanager
async def running_radius(sink=None) -> AsyncIterator[Radius]:
    """A server on free ports; by default its sink answers only once a batch is flushed, so
    a test that got its Accounting-Response finds the record without waiting."""
    directory = StaticDirectory()
    authorizer = StaticAuthorizer()
    authorizer.set(TENANT, "alice", ALICE)
    authorizer.set(TENANT, "bob", BOB)
    authorizer.set(TENANT, "carol", Rejection(RejectReason.EXPIRED, password=b"carol-pass"))
    authorizer.set(TENANT, "dave", Rejection(RejectReason.SUSPENDED))
    authorizer.set(TENANT, "erin", Rejection(RejectReason.DATA_USED_UP, password=b"erin-pass"))
    flushed = RecordingFlush()
    batching = BatchingSink(flushed, max_batch=100, max_delay=0.05, wait_for_flush=True)
    server = RadiusServer(
        directory, authorizer, sink or batching, host="127.0.0.1", auth_port=0, acct_port=0
    )
    await batching.start()
    await server.start()
    radius = Radius(server, directory, authorizer, batching, flushed)
    radius.client()
    try:
        yield radius
    finally:
        await server.close()
        await batching.close()


@pytest.fixture
async def radius():
    async with running_radius() as radius:
        yield radius


@pytest.fixture
def start_radius():
    """`async with start_radius(sink=…) as radius:` for a server with another sink."""
    return running_radius


class UdpPeer(asyncio.DatagramProtocol):
    """A bare UDP socket for hand-made datagrams; replies are queued as they arrive."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.replies.put_nowait(data)

    def send(self, data: bytes, address: tuple[str, int]) -> None:
        self.transport.sendto(data, address)

    async def reply(self, within: float = 15.0) -> bytes:
        return await asyncio.wait_for(self.replies.get(), within)


@pytest.fixture
async def udp_peer():
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0))
    yield peer
    transport.close()
