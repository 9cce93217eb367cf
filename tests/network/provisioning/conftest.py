"""Provisioning fixtures: ISPs with an api-mode router on the RouterOS emulator, services
made and changed through the real service functions, and `deliver`, which hands each new
service or router event to the provisioning handlers registered on the job registry, one
transaction per event, as the worker does."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from kiunga.integrations.routeros.emulator import RouterEmulator
from kiunga.platform.areas import assemble
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import (
    BillingType,
    Package,
    ServiceType,
    ValidityUnit,
    package_sites,
)
from kiunga.tenants.network.provisioning import jobs as provisioning_jobs
from kiunga.tenants.network.provisioning.models import RouterCommand
from kiunga.tenants.network.service import create_router
from kiunga.tenants.services.service import NewService, create_service
from kiunga.tenants.sites.models import Site
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import insert, select

STAFF = Actor.staff(3, "noc@isp.example")
ROUTER_USER = "kiunga"
ROUTER_PASSWORD = "Mt-api-pass-4417"
_numbers = itertools.count(1)
# Menus as the emulator names them.
PPP_PROFILE = "/ppp/profile"
PPP_SECRET = "/ppp/secret"
PPP_ACTIVE = "/ppp/active"
HOTSPOT_PROFILE = "/ip/hotspot/user/profile"
HOTSPOT_USER = "/ip/hotspot/user"
HOTSPOT_ACTIVE = "/ip/hotspot/active"
SIMPLE_QUEUE = "/queue/simple"
ADDRESS_LIST = "/ip/firewall/address-list"


def changes_sent(router: RouterEmulator) -> list[list[str]]:
    """Every add, set and remove the router received (prints excluded)."""
    return [
        sentence
        for sentence in list(router.state.commands)
        if sentence and sentence[0].rsplit("/", 1)[-1] in ("add", "set", "remove")
    ]


@dataclass
class Isp:
    tenant: object
    unit_of_work: object
    database: object
    handled: set[int] = field(default_factory=set)
    router_id: int | None = None

    @property
    def slug(self) -> str:
        return self.tenant.slug

    @property
    def schema(self) -> str:
        return self.tenant.schema

    def session(self):
        return self.unit_of_work(self.schema)

    async def add_router(self, emulator: RouterEmulator, *, site_id=None, name=None) -> int:
        async with self.session() as session:
            router = await create_router(
                session,
                self.tenant.id,
                name=name or f"POP {next(_numbers)}",
                address="127.0.0.1",
                api_port=emulator.port,
                mode="api",
                api_username=ROUTER_USER,
                api_password=ROUTER_PASSWORD,
                site_id=site_id,
            )
            router_id = router.id
        self.router_id = self.router_id or router_id
        return router_id

    async def add_site(self, name: str) -> int:
        async with self.session() as session:
            site = Site(name=f"{name} {next(_numbers)}")
            session.add(site)
            await session.flush()
            return site.id

    async def add_package(
        self,
        service_type: ServiceType = ServiceType.PPPOE,
        *,
        rate_limit: str = "5M/10M",
        price: int = 100_000,
        sites: tuple[int, ...] = (),
    ) -> int:
        async with self.session() as session:
            package = Package(
                name=f"Home {next(_numbers)}",
                price=price,
                currency="KES",
                billing_type=BillingType.PREPAID,
                validity_count=1,
                validity_unit=ValidityUnit.MONTH,
                service_type=service_type,
                rate_limit=rate_limit,
            )
            session.add(package)
            await session.flush()
            if sites:
                await session.execute(
                    insert(package_sites), [{"package_id": package.id, "site_id": s} for s in sites]
                )
            return package.id

    async def add_service(
        self,
        package_id: int,
        *,
        username: str | None = None,
        password: str | None = None,
        static_ip: str | None = None,
        site_id: int | None = None,
        paid: bool = True,
    ) -> int:
        """A subscriber with one service, paid for and active (or pending when unpaid)."""
        number = next(_numbers)
        async with self.session() as session:
            subscriber = Subscriber(
                account_number=f"P{number:05d}",
                name="Njeri Mwangi",
                status=SubscriberStatus.PENDING_INSTALLATION,
                site_id=site_id,
            )
            session.add(subscriber)
            await session.flush()
            package = await session.get(Package, package_id)
            if paid:
                await self._pay(session, subscriber.id, package.price)
            service = await create_service(
                session,
                NewService(
                    subscriber_id=subscriber.id,
                    package_id=package_id,
                    username=username,
                    password=password,
                    static_ip=static_ip,
                ),
                actor=STAFF,
            )
            return service.id

    async def pay(self, service_id: int) -> None:
        from kiunga.tenants.services.models import Service

        async with self.session() as session:
            service = await session.get(Service, service_id)
            package = await session.get(Package, service.package_id)
            await self._pay(session, service.subscriber_id, package.price)

    @staticmethod
    async def _pay(session, subscriber_id: int, amount: int) -> None:
        await record_payment(
            session,
            subscriber_id,
            amount,
            method="mpesa",
            reference=f"PV{uuid.uuid4().hex[:10].upper()}",
            received_at=datetime.now(UTC),
            actor=Actor.system("mpesa"),
        )

    async def deliver(self) -> list[dict]:
        """Hands every event not yet handled to the provisioning handlers registered for
        its topic (each event in a transaction of its own); returns their results."""
        results = []
        async with self.session() as session:
            events = list(
                await session.scalars(
                    select(OutboxEvent.id)
                    .where(OutboxEvent.id.not_in(self.handled or {0}))
                    .order_by(OutboxEvent.id)
                )
            )
        for event_id in events:
            self.handled.add(event_id)
            async with self.session() as session:
                event = await session.get(OutboxEvent, event_id)
                ctx = SimpleNamespace(
                    session=session, tenant=SimpleNamespace(slug=self.slug, schema=self.schema)
                )
                for spec in assemble().job_registry().handlers_for(event.topic):
                    if spec.name.startswith("network.provision_"):
                        results.append(await spec.fn(ctx, event))
        return results

    async def commands(self, router_id: int | None = None) -> list[RouterCommand]:
        async with self.session() as session:
            return list(
                await session.scalars(
                    select(RouterCommand)
                    .where(RouterCommand.router_id == (router_id or self.router_id))
                    .order_by(RouterCommand.sequence)
                )
            )


@pytest.fixture
def make_isp(make_tenant, unit_of_work, database):
    def make() -> Isp:
        return Isp(make_tenant("prov"), unit_of_work, database)

    return make


@pytest.fixture
async def isp(make_isp, mikrotik) -> Isp:
    """An ISP with one api-mode router (no site: it serves the whole ISP) on the emulator
    (`mikrotik`, from tests/network/conftest.py)."""
    isp = make_isp()
    await isp.add_router(mikrotik)
    await isp.deliver()
    return isp


async def eventually(check, within: float = 10.0, every: float = 0.05):
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


@pytest.fixture
async def worker(start_worker):
    """A job worker with provisioning's handlers and the outbox relay, on a queue of its own."""
    return await start_worker(provisioning_jobs.register, "provisioning")
