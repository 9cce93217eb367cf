"""The worker's view of tenants: looked up at every job, so disabling one takes effect at once."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant, TenantStatus
from sqlalchemy import select


@dataclass(frozen=True)
class TenantRef:
    id: int
    slug: str
    schema: str
    active: bool


_COLUMNS = (Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.status)


def _ref(row) -> TenantRef:
    return TenantRef(
        id=row.id, slug=row.slug, schema=row.schema_name, active=row.status == TenantStatus.ACTIVE
    )


async def tenant_by_slug(database: Database, slug: str) -> TenantRef | None:
    async with database.platform_session() as session:
        row = (await session.execute(select(*_COLUMNS).where(Tenant.slug == slug))).first()
    return _ref(row) if row else None


async def tenant_by_schema(database: Database, schema: str) -> TenantRef | None:
    async with database.platform_session() as session:
        row = (await session.execute(select(*_COLUMNS).where(Tenant.schema_name == schema))).first()
    return _ref(row) if row else None


async def active_tenants(database: Database) -> list[TenantRef]:
    async with database.platform_session() as session:
        rows = await session.execute(
            select(*_COLUMNS).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.id)
        )
        return [_ref(row) for row in rows]
