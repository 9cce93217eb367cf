"""The RADIUS server's view of every ISP's routers: source address → tenant, router and
shared secret, for its in-memory client directory.

platform.radius_clients routes an address to a tenant and router id; the secret and the
Message-Authenticator policy are read from that tenant's own schema. Disabled ISPs' routers
are left out: their packets are nobody's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiunga.integrations.radius.interfaces import RadiusClient
from kiunga.platform.db.engine import Database
from kiunga.platform.models import RadiusClientRoute, Tenant, TenantStatus
from kiunga.tenants.network.models import Router, RouterMode
from kiunga.tenants.network.service import radius_secret
from kiunga.tenants.network.validation import ip_or_none
from sqlalchemy import select


@dataclass(frozen=True, slots=True)
class RadiusClientEntry:
    source_address: str
    tenant_id: int
    tenant_slug: str
    tenant_schema: str
    router_id: int
    router_name: str
    secret: str = field(repr=False)
    require_message_authenticator: bool
    coa_port: int

    def as_nas_client(self) -> RadiusClient:
        """The RADIUS server's record of it; its tenant key is the ISP's schema name."""
        return RadiusClient(
            secret=self.secret.encode(),
            tenant_key=self.tenant_schema,
            router_id=str(self.router_id),
            require_message_authenticator=self.require_message_authenticator,
        )


async def load_radius_clients(
    database: Database, *, source_address: str | None = None
) -> list[RadiusClientEntry]:
    """Every RADIUS client of every active ISP (or only the one at `source_address`)."""
    query = (
        select(RadiusClientRoute.source_address, RadiusClientRoute.router_id, Tenant)
        .join(Tenant, Tenant.id == RadiusClientRoute.tenant_id)
        .where(Tenant.status == TenantStatus.ACTIVE)
    )
    if source_address is not None:
        canonical = ip_or_none(source_address.strip())
        if canonical is None:
            return []
        query = query.where(RadiusClientRoute.source_address == canonical)
    async with database.platform_session() as session:
        routes = (await session.execute(query)).all()
    by_tenant: dict[int, tuple[Tenant, dict[int, str]]] = {}
    for address, router_id, tenant in routes:
        by_tenant.setdefault(tenant.id, (tenant, {}))[1][router_id] = address
    entries: list[RadiusClientEntry] = []
    for tenant, addresses in by_tenant.values():
        async with database.tenant_session(tenant.schema_name) as session:
            routers = await session.scalars(
                select(Router).where(Router.id.in_(addresses), Router.mode == RouterMode.RADIUS)
            )
            for router in routers:
                secret = radius_secret(router)
                if not secret:
                    continue
                entries.append(
                    RadiusClientEntry(
                        source_address=addresses[router.id],
                        tenant_id=tenant.id,
                        tenant_slug=tenant.slug,
                        tenant_schema=tenant.schema_name,
                        router_id=router.id,
                        router_name=router.name,
                        secret=secret,
                        require_message_authenticator=router.require_message_authenticator,
                        coa_port=router.coa_port,
                    )
                )
    return sorted(entries, key=lambda entry: entry.source_address)


async def load_radius_client(database: Database, source_address: str) -> RadiusClientEntry | None:
    entries = await load_radius_clients(database, source_address=source_address)
    return entries[0] if entries else None


async def load_client_directory(database: Database) -> dict[str, RadiusClient]:
    """Source address → RadiusClient for every active ISP's routers in radius mode: what the
    RADIUS server's in-memory directory holds."""
    return {
        entry.source_address: entry.as_nas_client() for entry in await load_radius_clients(database)
    }
