"""Which tenant a host name belongs to. Fails closed: an unknown host is nobody's.

`<slug>.<base domain>` and custom domains (rows in platform.tenant_domains) name a tenant;
the bare base domain is the platform's own surface; every other host is unknown.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant, TenantDomain, TenantStatus
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.platform.web.metrics import TENANT_RESOLUTIONS, cache_size_reporter
from sqlalchemy import select
from sqlalchemy.orm import raiseload

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# Resolution needs the tenant row only; its domains would cost a second query.
_WITHOUT_DOMAINS = raiseload(Tenant.domains)


@dataclass(frozen=True, slots=True)
class TenantContext:
    """The tenant a request is for. Handlers receive it by injection, never from a global."""

    id: int
    slug: str
    schema: str
    name: str
    status: str
    # The ISP's IANA zone: times are stored in UTC and shown to its people in this one.
    timezone: str = "Africa/Nairobi"

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE.value

    @classmethod
    def of(cls, tenant: Tenant) -> TenantContext:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            schema=tenant.schema_name,
            name=tenant.name,
            status=TenantStatus(tenant.status).value,
            timezone=tenant.timezone,
        )


class Surface(enum.StrEnum):
    PLATFORM = "platform"
    TENANT = "tenant"


@dataclass(frozen=True, slots=True)
class ResolvedHost:
    surface: Surface
    host: str
    tenant: TenantContext | None = None


def normalise_host(raw: str | None) -> str | None:
    """Host header → lowercase name without port or trailing dot; None if malformed."""
    if not raw:
        return None
    host = raw.strip().lower()
    if host.startswith("["):
        return None  # an IPv6 literal names no tenant
    host = host.rsplit(":", 1)[0] if ":" in host else host
    host = host.rstrip(".")
    if len(host) > 253 or not HOST_PATTERN.match(host):
        return None
    return host


class TenantResolver:
    """Host → tenant and tenant id → tenant, each cached for `ttl_seconds`."""

    def __init__(self, database: Database, base_domain: str, ttl_seconds: float):
        self.database = database
        self.base_domain = base_domain.lower().strip(".")
        self._by_host: TtlCache[str, TenantContext | None] = TtlCache(
            ttl_seconds, on_size_change=cache_size_reporter("host")
        )
        self._by_id: TtlCache[int, TenantContext | None] = TtlCache(
            ttl_seconds, on_size_change=cache_size_reporter("tenant_id")
        )

    def invalidate(self) -> None:
        """Forget everything; called when this process creates or changes a tenant."""
        self._by_host.clear()
        self._by_id.clear()

    async def resolve_host(self, raw_host: str | None) -> ResolvedHost | None:
        host = normalise_host(raw_host)
        if host is None:
            TENANT_RESOLUTIONS.labels(source="none", outcome="unknown").inc()
            return None
        if host == self.base_domain:
            TENANT_RESOLUTIONS.labels(source="none", outcome="platform").inc()
            return ResolvedHost(Surface.PLATFORM, host)
        tenant = self._by_host.get(host)
        source = "cache"
        if tenant is ABSENT:
            source = "database"
            tenant = await self._load_by_host(host)
            self._by_host.set(host, tenant)
        TENANT_RESOLUTIONS.labels(source=source, outcome="tenant" if tenant else "unknown").inc()
        return ResolvedHost(Surface.TENANT, host, tenant) if tenant else None

    async def tenant_by_id(self, tenant_id: int) -> TenantContext | None:
        tenant = self._by_id.get(tenant_id)
        if tenant is ABSENT:
            async with self.database.platform_session() as session:
                row = await session.get(Tenant, tenant_id, options=[_WITHOUT_DOMAINS])
                tenant = TenantContext.of(row) if row else None
            self._by_id.set(tenant_id, tenant)
        return tenant

    async def _load_by_host(self, host: str) -> TenantContext | None:
        async with self.database.platform_session() as session:
            row = await session.scalar(
                select(Tenant)
                .join(TenantDomain)
                .where(TenantDomain.host == host)
                .options(_WITHOUT_DOMAINS)
            )
            if row is None and host.endswith("." + self.base_domain):
                # A sub-domain with no row (the base domain changed since the tenant was
                # made): the label is the slug. Deeper names (a.b.base) are nobody's.
                label = host[: -len(self.base_domain) - 1]
                if "." not in label:
                    row = await session.scalar(
                        select(Tenant).where(Tenant.slug == label).options(_WITHOUT_DOMAINS)
                    )
            return TenantContext.of(row) if row else None

    @property
    def cache_sizes(self) -> dict[str, int]:
        return {"host": len(self._by_host), "tenant_id": len(self._by_id)}
