"""RADIUS source addresses claimed by ISPs' routers, as the platform's operators see them.

An address names one router of one ISP across the platform, and the first router saved
with it holds it. When another ISP says the address is theirs, the platform's operators
look at who holds it and may release it; the rightful owner then saves their router again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.models import RadiusClientRoute, Tenant
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

# Told (on commit) whenever platform.radius_clients changes, so RADIUS servers reload.
RADIUS_CLIENTS_CHANNEL = "kiunga_radius_clients"


@dataclass(frozen=True, slots=True)
class ClaimedAddress:
    source_address: str
    tenant_slug: str
    tenant_name: str
    router_id: int
    claimed_at: datetime


async def list_claimed_addresses(session: AsyncSession) -> list[ClaimedAddress]:
    rows = await session.execute(
        select(
            RadiusClientRoute.source_address,
            Tenant.slug,
            Tenant.name,
            RadiusClientRoute.router_id,
            RadiusClientRoute.created_at,
        )
        .join(Tenant, Tenant.id == RadiusClientRoute.tenant_id)
        .order_by(RadiusClientRoute.source_address)
    )
    return [ClaimedAddress(*row) for row in rows]


async def release_address(session: AsyncSession, source_address: str) -> bool:
    """Free an address (in the caller's transaction); False when nobody held it. The router
    that held it stays as it is in its ISP's books, but RADIUS from the address no longer
    reaches that ISP."""
    released = await session.scalar(
        delete(RadiusClientRoute)
        .where(RadiusClientRoute.source_address == source_address)
        .returning(RadiusClientRoute.source_address)
    )
    if released is None:
        return False
    await session.execute(
        text("SELECT pg_notify(:channel, '')"), {"channel": RADIUS_CLIENTS_CHANNEL}
    )
    return True
