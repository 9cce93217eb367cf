"""Turning credentials into principals: Bearer API keys and console session cookies.

Both lookups are cached in process for the tenant cache TTL, so that an authenticated
request normally costs no database round trip. Revoking a key or a membership through
this process takes effect at once; other processes catch up within the TTL.
"""

from __future__ import annotations

import time

from kiunga.platform.auth.api_keys import (
    ApiKeyRecord,
    find_api_key,
    parse_token,
    record_key_use,
    secret_matches,
)
from kiunga.platform.auth.principals import ApiKeyPrincipal, StaffPrincipal
from kiunga.platform.auth.sessions import SessionIdentity, load_staff_principal
from kiunga.platform.db.engine import Database
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.platform.web.metrics import API_KEY_AUTHENTICATIONS, cache_size_reporter

LAST_USED_INTERVAL_SECONDS = 60


class ApiKeyAuthenticator:
    def __init__(self, database: Database, secret_key: str, ttl_seconds: float):
        self.database = database
        self._secret_key = secret_key
        self._records: TtlCache[str, ApiKeyRecord | None] = TtlCache(
            ttl_seconds, on_size_change=cache_size_reporter("api_key")
        )
        self._last_stamped: dict[int, float] = {}

    def invalidate(self) -> None:
        self._records.clear()

    async def authenticate(self, token: str) -> ApiKeyPrincipal | None:
        """The key's principal, or None if the token is malformed, unknown, wrong,
        revoked or expired (the caller answers 401 for all of these alike)."""
        parsed = parse_token(token)
        if parsed is None:
            API_KEY_AUTHENTICATIONS.labels(outcome="malformed").inc()
            return None
        prefix, secret = parsed
        record = await self._record(prefix)
        if record is None or not secret_matches(self._secret_key, record, secret):
            API_KEY_AUTHENTICATIONS.labels(outcome="unknown").inc()
            return None
        if not record.is_usable():
            API_KEY_AUTHENTICATIONS.labels(outcome="revoked_or_expired").inc()
            return None
        API_KEY_AUTHENTICATIONS.labels(outcome="ok").inc()
        await self._stamp_last_used(record.id)
        return ApiKeyPrincipal(
            key_id=record.id,
            prefix=record.prefix,
            tenant_id=record.tenant_id,
            reseller_id=record.reseller_id,
            scopes=record.scopes,
            expires_at=record.expires_at,
        )

    async def _record(self, prefix: str) -> ApiKeyRecord | None:
        record = self._records.get(prefix)
        if record is ABSENT:
            async with self.database.platform_session() as session:
                record = await find_api_key(session, prefix)
            self._records.set(prefix, record)
        return record

    async def _stamp_last_used(self, key_id: int) -> None:
        # At most once a minute per key and process; the UPDATE's own condition keeps
        # several processes from stamping the same minute again.
        now = time.monotonic()
        if now - self._last_stamped.get(key_id, float("-inf")) < LAST_USED_INTERVAL_SECONDS:
            return
        self._last_stamped[key_id] = now
        async with self.database.platform_session() as session:
            await record_key_use(session, key_id, min_interval_seconds=LAST_USED_INTERVAL_SECONDS)
            await session.commit()


class StaffSessionLoader:
    """A session cookie's identity → the staff principal, cached."""

    def __init__(self, database: Database, ttl_seconds: float):
        self.database = database
        self._principals: TtlCache[SessionIdentity, StaffPrincipal | None] = TtlCache(
            ttl_seconds, on_size_change=cache_size_reporter("staff_session")
        )

    def invalidate(self) -> None:
        self._principals.clear()

    async def load(self, identity: SessionIdentity) -> StaffPrincipal | None:
        principal = self._principals.get(identity)
        if principal is ABSENT:
            async with self.database.platform_session() as session:
                principal = await load_staff_principal(
                    session, identity.staff_id, identity.tenant_id, identity.generation
                )
            self._principals.set(identity, principal)
        return principal
