"""RADIUS fixtures: an ISP with a radius-mode router at 127.0.0.1 whose CoA port is a
listener playing the router, the server `kiunga radius` runs (directory, subscriber cache,
accounting writer) on free ports in this process, a job worker running the RADIUS
handlers, services made through the real service functions, and Debian's radclient."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from kiunga.integrations.radius.emulator import CoaListener
from kiunga.integrations.radius.server import RadiusServer
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.network.directory import RadiusClientDirectory
from kiunga.tenants.network.radius import jobs as radius_jobs
from kiunga.tenants.network.radius.accounting import AccountingWriter
from kiunga.tenants.network.radius.authorizer import TenantAuthorizer
from kiunga.tenants.network.service import create_router, delete_router
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus

SECRET = "nas-secret-7731"
OTHER_SECRET = "nas-secret-other-2208"
STAFF = Actor.staff(1, "noc@isp.example")
# How long the tests wait for a change committed through a service function to reach the
# cache by its NOTIFY: generous, for a busy machine (how fast it is, is for a benchmark).
NOTIFY_BOUND = 15.0
INTERIM = 60
_numbers = itertools.count(1)


async def eventually(check, within: float = 15.0, every: float = 0.05):
    """Poll `check` (sync or async) until it returns something true, or fail at `within`."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s: {check}")
        await asyncio.sleep(every)


@pytest.fixture(autouse=True)
def _needs_radclient():
    if shutil.which("radclient") is None:
        pytest.skip("Debian's freeradius-utils (radclient) is not installed")


@dataclass
class Reply:
    code: str
    attributes: dict[str, str]
    output: str

    def __getitem__(self, name: str) -> str:
        return self.attributes[name]


async def radclient(
    port: int, command: str, secret: str, attributes: dict[str, object], *, source=None
) -> Reply:
    """One request from Debian's radclient (from `source`, when given); its reply, parsed."""
    lines = [f"{name} = {_quoted(value)}" for name, value in attributes.items()]
    if source is not None:
        lines.append(f"Packet-Src-IP-Address = {source}")
    process = await asyncio.create_subprocess_exec(
        "radclient", "-x", "-t", "1", "-r", "2", f"127.0.0.1:{port}", command, secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate("\n".join(lines).encode() + b"\n")
    return _parse(output.decode(errors="replace"))


def _quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) and not value.isdigit() else str(value)


def _parse(output: str) -> Reply:
    code, attributes, in_reply = "none", {}, False
    for line in output.splitlines():
        if line.startswith("Received "):
            code = line.split()[1]
            in_reply = True
        elif in_reply and "=" in line and line.startswith(("\t", " ")):
            name, _, value = line.strip().partition(" = ")
            attributes[name] = value.strip('"')
        elif line.startswith(("Sent ", "(")):
            in_reply = False
    return Reply(code, attributes, output)


@pytest.fixture
async def router_listener():
    """The router's CoA port (RFC 5176), answering ACK."""
    async with CoaListener(SECRET.encode()) as listener:
        yield listener


@dataclass
class Isp:
    tenant: object
    router_id: int
    schema: str


@pytest.fixture
async def isp(make_tenant, unit_of_work, router_listener) -> Isp:
    """An ISP whose radius-mode router sends from 127.0.0.1 and takes CoA on the listener."""
    tenant = make_tenant("rad")
    async with unit_of_work(tenant.schema) as session:
        router = await create_router(
            session,
            tenant.id,
            name="Core Kilimani",
            address="127.0.0.1",
            mode="radius",
            radius_secret=SECRET,
            radius_source_address="127.0.0.1",
            coa_port=router_listener.port,
        )
        router_id = router.id
    yield Isp(tenant, router_id, tenant.schema)
    async with unit_of_work(tenant.schema) as session:  # 127.0.0.1 is free for the next test
        await delete_router(session, tenant.id, router_id)


@pytest.fixture
async def other_isp(make_tenant, unit_of_work) -> Isp:
    """Another ISP, whose router sends from 127.0.0.2."""
    tenant = make_tenant("rad")
    async with unit_of_work(tenant.schema) as session:
        router = await create_router(
            session,
            tenant.id,
            name="Other NAS",
            address="127.0.0.2",
            mode="radius",
            radius_secret=OTHER_SECRET,
        )
        router_id = router.id
    yield Isp(tenant, router_id, tenant.schema)
    async with unit_of_work(tenant.schema) as session:
        await delete_router(session, tenant.id, router_id)


@pytest.fixture
def add_service(unit_of_work):
    """A paid, active service made by the service functions; returns its id."""

    async def add(
        isp: Isp,
        username: str,
        password: str,
        *,
        rate_limit: str = "5M/10M",
        data_cap_bytes: int | None = None,
        fup_rate_limit: str | None = None,
        static_ip: str | None = None,
        price: int = 100_000,
    ) -> int:
        number = next(_numbers)
        async with unit_of_work(isp.schema) as session:
            subscriber = Subscriber(
                account_number=f"R{number:05d}",
                name="Wanjiru Kamau",
                status=SubscriberStatus.PENDING_INSTALLATION,
            )
            package = Package(
                name=f"Home {number}",
                price=price,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=1,
                validity_unit=ValidityUnit.MONTH,
                service_type=ServiceType.PPPOE,
                rate_limit=rate_limit,
                data_cap_bytes=data_cap_bytes,
                fup_rate_limit=fup_rate_limit,
            )
            session.add_all([subscriber, package])
            await session.flush()
            await record_payment(
                session,
                subscriber.id,
                price,
                method="mpesa",
                reference=f"RQ{uuid.uuid4().hex[:10].upper()}",
                received_at=datetime.now(UTC),
                actor=Actor.system("mpesa"),
            )
            service = await create_service(
                session,
                NewService(
                    subscriber_id=subscriber.id,
                    package_id=package.id,
                    username=username,
                    password=password,
                    static_ip=static_ip,
                ),
                actor=STAFF,
            )
            assert service.status == "active"
            return service.id

    return add


@dataclass
class RunningRadius:
    server: RadiusServer
    directory: RadiusClientDirectory
    authorizer: TenantAuthorizer
    writer: AccountingWriter

    @property
    def auth_port(self) -> int:
        return self.server.auth_address[1]

    @property
    def acct_port(self) -> int:
        return self.server.acct_address[1]

    async def auth(self, username: str, password: str, *, secret=SECRET, source=None) -> Reply:
        return await radclient(
            self.auth_port,
            "auth",
            secret,
            {"User-Name": username, "User-Password": password},
            source=source,
        )

    async def acct(self, attributes: dict[str, object], *, secret=SECRET) -> Reply:
        return await radclient(self.acct_port, "acct", secret, attributes)


@pytest.fixture
async def radius(isp, database_url, settings_env) -> RunningRadius:
    """What `kiunga radius` runs, on free ports of 127.0.0.1 (the ISP's router exists first,
    so the directory knows it from the start)."""
    directory = RadiusClientDirectory(database_url, refresh_seconds=3600)
    authorizer = TenantAuthorizer(database_url, reload_seconds=3600, interim_interval=INTERIM)
    writer = AccountingWriter(database_url, max_batch=100, max_delay=0.05)
    server = RadiusServer(directory, authorizer, writer, host="127.0.0.1", auth_port=0, acct_port=0)
    for part in (directory, authorizer, writer):
        await part.start()
    await authorizer.wait_listening()
    await server.start()
    try:
        yield RunningRadius(server, directory, authorizer, writer)
    finally:
        await server.close()
        for part in (writer, authorizer, directory):
            await part.close()


@pytest.fixture
async def worker(start_worker):
    """A job worker with the RADIUS handlers and the outbox relay, on a queue of its own."""
    return await start_worker(radius_jobs.register, "radius")
