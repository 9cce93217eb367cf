"""Callback path token → tenant. Fails closed: an unknown token is nobody's, and nothing is
stored anywhere. A disabled ISP's token still names it (`active` is False): Daraja keeps
sending its customers' payments, and those are recorded and answered, not lost. Answers are
cached for the tenant cache's TTL, misses too, so that guessing tokens costs the database
nothing."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant, TenantStatus, WebhookRoute
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.tenants.mpesa.config import PROVIDER
from kiunga.tenants.mpesa.models import MpesaSettings
from kiunga.tenants.mpesa.secrets import token_hash
from sqlalchemy import select

MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    tenant_id: int
    slug: str
    schema: str
    allowed_sources: str
    active: bool = True


class CallbackRoutes:
    def __init__(self, database: Database, ttl_seconds: float):
        self.database = database
        self._cache: TtlCache[str, CallbackTarget | None] = TtlCache(ttl_seconds)

    def forget(self) -> None:
        self._cache.clear()

    async def resolve(self, token: str) -> CallbackTarget | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_hash(token)
        target = self._cache.get(digest)
        if target is ABSENT:
            target = await self._load(digest)
            self._cache.set(digest, target)
        return target

    async def _load(self, digest: str) -> CallbackTarget | None:
        async with self.database.platform_session() as session:
            row = (
                await session.execute(
                    select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.status)
                    .join(WebhookRoute, WebhookRoute.tenant_id == Tenant.id)
                    .where(WebhookRoute.token_hash == digest, WebhookRoute.provider == PROVIDER)
                )
            ).first()
        if row is None:
            return None
        tenant_id, slug, schema, status = row
        async with self.database.tenant_session(schema) as session:
            allowed = await session.scalar(select(MpesaSettings.allowed_sources))
        return CallbackTarget(
            tenant_id, slug, schema, allowed or "", active=status is TenantStatus.ACTIVE
        )
