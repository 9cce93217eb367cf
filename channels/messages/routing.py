"""Which ISP a channel callback is for. Fails closed: an unknown token or code is nobody's,
and nothing is stored in any ISP.

- Every ISP's channel callbacks (USSD, SMS, delivery reports, WhatsApp, status callbacks)
  arrive on one secret path token per ISP (`/hooks/channels/{token}/…`, hashed in
  platform.webhook_routes under PROVIDER), as Daraja's do: Africa's Talking signs nothing.
- A USSD code shared by several ISPs arrives on the platform's own path; the ISP is its
  extension, the first part of the text (`*384*12*3#` → service code `*384*12#`, text `3…`).
  An ISP's own code names it with the extension ''.

Answers are cached for the tenant cache's TTL, misses too, so that guessing costs the
database nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.channels.messages.secrets import token_hash
from kiunga.platform.db.engine import Database
from kiunga.platform.models import Tenant, TenantStatus, UssdCodeRoute, WebhookRoute
from kiunga.platform.web.cache import ABSENT, TtlCache
from sqlalchemy import select

PROVIDER = "channels"
MAX_TOKEN_LENGTH = 100
MAX_CODE_LENGTH = 40


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    tenant_id: int
    slug: str
    schema: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class UssdTarget:
    target: ChannelTarget
    # The extension the session was routed by ('' for the ISP's own code): the first part
    # of AT's text, which the conversation does not see.
    extension: str


def normalise_service_code(raw: str) -> str:
    """`*384*12#` as people and AT write it; spaces dropped."""
    return "".join(raw.split())


class ChannelRoutes:
    def __init__(self, database: Database, ttl_seconds: float):
        self.database = database
        self._tokens: TtlCache[str, ChannelTarget | None] = TtlCache(ttl_seconds)
        self._codes: TtlCache[tuple[str, str], ChannelTarget | None] = TtlCache(ttl_seconds)

    def forget(self) -> None:
        self._tokens.clear()
        self._codes.clear()

    async def by_token(self, token: str) -> ChannelTarget | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = token_hash(token)
        target = self._tokens.get(digest)
        if target is ABSENT:
            target = await self._load(
                WebhookRoute, (WebhookRoute.token_hash == digest, WebhookRoute.provider == PROVIDER)
            )
            self._tokens.set(digest, target)
        return target

    async def by_code(self, service_code: str, extension: str = "") -> ChannelTarget | None:
        code = normalise_service_code(service_code)
        if not code or len(code) > MAX_CODE_LENGTH or len(extension) > 6:
            return None
        key = (code, extension)
        target = self._codes.get(key)
        if target is ABSENT:
            target = await self._load(
                UssdCodeRoute,
                (UssdCodeRoute.service_code == code, UssdCodeRoute.extension == extension),
            )
            self._codes.set(key, target)
        return target

    async def ussd(self, service_code: str, text: str) -> UssdTarget | None:
        """The ISP of a USSD hop: its own code, else a shared code and the extension that
        starts the text."""
        own = await self.by_code(service_code)
        if own is not None:
            return UssdTarget(own, "")
        extension = text.split("*", 1)[0]
        if not extension.isdigit():
            return None
        shared = await self.by_code(service_code, extension)
        return UssdTarget(shared, extension) if shared is not None else None

    async def _load(self, table, where) -> ChannelTarget | None:
        async with self.database.platform_session() as session:
            row = (
                await session.execute(
                    select(Tenant.id, Tenant.slug, Tenant.schema_name, Tenant.status)
                    .join(table, table.tenant_id == Tenant.id)
                    .where(*where)
                )
            ).first()
        if row is None:
            return None
        tenant_id, slug, schema, status = row
        return ChannelTarget(tenant_id, slug, schema, active=status is TenantStatus.ACTIVE)
