"""The demo ISP's network for `kiunga up`: a router Kiunga provisions over the RouterOS API
(the local RouterOS emulator) and a NAS that asks Kiunga's RADIUS server, plus a PPPoE
password for the M-Pesa demo's lapsed subscriber, so that a newcomer can watch RADIUS refuse
them, pay with one curl, and see them let in with their package's speed."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant
from kiunga.tenants.mpesa.demo import DEMO_ACCOUNT
from kiunga.tenants.network.models import Router, RouterMode
from kiunga.tenants.network.service import create_router, update_router
from kiunga.tenants.services.credentials import decrypt_password, encrypt_password
from kiunga.tenants.services.models import Service
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import select

DEMO_ROUTER_NAME = "Demo router"
DEMO_ROUTER_USER = "admin"
DEMO_ROUTER_PASSWORD = "demo-router-pass"
DEMO_NAS_NAME = "Demo NAS"
DEMO_NAS_ADDRESS = "127.0.0.1"
DEMO_RADIUS_SECRET = "demo-radius-secret"
DEMO_PPPOE_PASSWORD = "wanjiru-pass"


@dataclass(frozen=True)
class DemoNetwork:
    router_id: int
    nas_id: int
    pppoe_username: str | None
    pppoe_password: str | None
    radius_secret: str


async def _router_named(session, name: str) -> Router | None:
    return await session.scalar(select(Router).where(Router.name == name))


async def _seed_routers(session, tenant_id: int, routeros_port: int) -> tuple[int, int]:
    router = await _router_named(session, DEMO_ROUTER_NAME)
    if router is None:
        router = await create_router(
            session, tenant_id, name=DEMO_ROUTER_NAME, mode=RouterMode.API.value,
            address="127.0.0.1", api_port=routeros_port, api_username=DEMO_ROUTER_USER,
            api_password=DEMO_ROUTER_PASSWORD,
        )  # fmt: skip
    elif router.address == "127.0.0.1" and router.api_port != routeros_port:
        # The emulator may listen on another port than last time.
        router = await update_router(session, tenant_id, router.id, api_port=routeros_port)
    nas = await _router_named(session, DEMO_NAS_NAME)
    if nas is None:
        nas = await create_router(
            session, tenant_id, name=DEMO_NAS_NAME, mode=RouterMode.RADIUS.value,
            address=DEMO_NAS_ADDRESS, radius_source_address=DEMO_NAS_ADDRESS,
            radius_secret=DEMO_RADIUS_SECRET,
        )  # fmt: skip
    return router.id, nas.id


async def _seed_pppoe_password(session) -> tuple[str | None, str | None]:
    """The lapsed demo subscriber's PPPoE service gets a password, once."""
    service = await session.scalar(
        select(Service)
        .join(Subscriber, Subscriber.id == Service.subscriber_id)
        .where(Subscriber.account_number == DEMO_ACCOUNT)
        .order_by(Service.id)
        .limit(1)
    )
    if service is None or service.username is None:
        return None, None
    if service.password_encrypted is None:
        service.password_encrypted = encrypt_password(DEMO_PPPOE_PASSWORD)
        await session.flush()
        return service.username, DEMO_PPPOE_PASSWORD
    try:
        unchanged = decrypt_password(service.password_encrypted) == DEMO_PPPOE_PASSWORD
    except ValueError:  # stored under another secret key
        unchanged = False
    # Shown only while it is still the demo's.
    return service.username, DEMO_PPPOE_PASSWORD if unchanged else None


async def seed_demo_network(database_url: str, slug: str, routeros_port: int) -> DemoNetwork:
    """Idempotent: a second run only points the demo router at the emulator's port."""
    database = Database(database_url, pool_size=2)
    try:
        async with database.platform_session() as session:
            tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
        async with database.tenant_session(tenant.schema_name) as session, session.begin():
            router_id, nas_id = await _seed_routers(session, tenant.id, routeros_port)
            username, password = await _seed_pppoe_password(session)
    finally:
        await database.dispose()
    return DemoNetwork(router_id, nas_id, username, password, DEMO_RADIUS_SECRET)
