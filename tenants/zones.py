"""The ISP's own time zone, for what people read: times are stored in UTC and shown, and
days counted, in the zone the ISP set (platform.tenants.timezone)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.models import Tenant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_ZONE = "Africa/Nairobi"


async def tenant_zone(session: AsyncSession) -> ZoneInfo:
    """The zone of the ISP whose schema `session` is bound to."""
    schema = session.info.get(TENANT_SCHEMA_KEY)
    name = await session.scalar(select(Tenant.timezone).where(Tenant.schema_name == schema))
    return ZoneInfo(name or DEFAULT_ZONE)
