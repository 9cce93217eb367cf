"""API keys: `kg_<prefix>_<secret>`, stored as an HMAC of the secret, never the secret.

The prefix is public (shown in lists, logged, used to find the row); the secret is shown
once, when the key is made. The stored hash is HMAC-SHA256 keyed by a key derived from
KIUNGA_SECRET_KEY, so a leaked database alone does not let anyone forge or check keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.auth.fence import fence_of
from kiunga.platform.auth.principals import ApiKeyPrincipal, Principal
from kiunga.platform.auth.scopes import scope_table
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import DomainError, Kind
from kiunga.platform.models import ApiKey
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

TOKEN_MARKER = "kg"
PREFIX_BYTES = 4  # 8 hex characters: enough to tell keys apart, never enough to guess one
SECRET_BYTES = 32
TOKEN_PATTERN = re.compile(r"^kg_([0-9a-f]{8})_([A-Za-z0-9_-]{20,100})$")
MAX_NAME_LENGTH = 200


class ApiKeyError(DomainError, ValueError):
    """Bad input for a key; `field` names what was wrong."""


class KeyNotAllowed(ApiKeyError):
    """The caller may not make this key: it would reach further than the caller does."""

    kind = Kind.FORBIDDEN
    names_field = False


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A key just made. `token` is the only copy of the secret: show it once."""

    id: int
    prefix: str
    name: str
    scopes: tuple[str, ...]
    tenant_id: int | None
    reseller_id: int | None
    expires_at: datetime | None
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What a request needs to check a key; cached in memory, so holds no secret."""

    id: int
    prefix: str
    secret_hash: str = field(repr=False)
    scopes: frozenset[str]
    tenant_id: int | None
    reseller_id: int | None
    revoked_at: datetime | None
    expires_at: datetime | None

    def is_usable(self, now: datetime | None = None) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > (now or utcnow())


def hash_secret(secret_key: str, prefix: str, secret: str) -> str:
    # The prefix is part of the message so a secret is bound to the row it was issued for.
    key = derive_key(secret_key, "api-key")
    return hmac.new(key, f"{prefix}:{secret}".encode(), hashlib.sha256).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    match = TOKEN_PATTERN.match(token or "")
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret_key: str, record: ApiKeyRecord, secret: str) -> bool:
    expected = hash_secret(secret_key, record.prefix, secret)
    return hmac.compare_digest(expected, record.secret_hash)


def _new_token() -> tuple[str, str, str]:
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return prefix, secret, f"{TOKEN_MARKER}_{prefix}_{secret}"


def validate_key_request(
    name: str, scopes: Iterable[str], tenant_id: int | None, reseller_id: int | None = None
) -> tuple[str, tuple[str, ...]]:
    name = (name or "").strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    wanted = tuple(sorted(set(scopes)))
    if not wanted:
        raise ApiKeyError("scopes", "at least one scope is required")
    table = scope_table()
    unknown = [scope for scope in wanted if scope not in table.allowed(tenant_id)]
    if unknown:
        kind = "a tenant" if tenant_id is not None else "a platform"
        raise ApiKeyError("scopes", f"not valid for {kind} key: {', '.join(unknown)}")
    if reseller_id is not None:
        if tenant_id is None:
            raise ApiKeyError("reseller_id", "a platform key has no reseller")
        isp_wide = [scope for scope in wanted if scope not in table.fenced]
        if isp_wide:
            raise ApiKeyError(
                "scopes", f"a reseller's key cannot hold ISP-wide scopes: {', '.join(isp_wide)}"
            )
    return name, wanted


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """What a caller asks for; validated once, whichever session makes the row."""

    scopes: Iterable[str]
    tenant_id: int | None
    name: str = ""
    reseller_id: int | None = None
    expires_at: datetime | None = None
    created_by_staff_id: int | None = None

    def new_row(self, secret_key: str) -> tuple[ApiKey, str]:
        name, scopes = validate_key_request(
            self.name, self.scopes, self.tenant_id, self.reseller_id
        )
        prefix, secret, token = _new_token()
        row = ApiKey(
            prefix=prefix,
            secret_hash=hash_secret(secret_key, prefix, secret),
            name=name,
            scopes=list(scopes),
            tenant_id=self.tenant_id,
            reseller_id=self.reseller_id,
            expires_at=self.expires_at,
            created_by_staff_id=self.created_by_staff_id,
        )
        return row, token


def bounded_by_caller(request: KeyRequest, caller: Principal) -> KeyRequest:
    """The request as the caller may make it: a key holds no more than whoever makes it —
    a subset of the caller's scopes, the caller's reseller (when it has one), and an expiry
    no later than the caller's own key. Otherwise a key could mint its way out of its fence."""
    beyond = sorted(set(request.scopes) - caller.scopes)
    if beyond:
        held = ", ".join(beyond)
        raise KeyNotAllowed("scopes", f"cannot grant scopes the caller does not hold: {held}")
    reseller_id = request.reseller_id
    fence = fence_of(caller)
    if fence is not None:
        if reseller_id not in (None, fence):
            raise KeyNotAllowed(
                "reseller_id", "a reseller's key can only make keys for that reseller"
            )
        reseller_id = fence
    expires_at = request.expires_at
    caller_expires_at = caller.expires_at if isinstance(caller, ApiKeyPrincipal) else None
    if caller_expires_at is not None:
        if expires_at is None:
            expires_at = caller_expires_at
        elif expires_at > caller_expires_at:
            raise KeyNotAllowed("expires_at", "a key cannot outlive the key that makes it")
    return replace(request, reseller_id=reseller_id, expires_at=expires_at)


def _issued(row: ApiKey, token: str) -> IssuedApiKey:
    return IssuedApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        scopes=tuple(row.scopes),
        tenant_id=row.tenant_id,
        reseller_id=row.reseller_id,
        expires_at=row.expires_at,
        token=token,
    )


async def create_api_key(
    session: AsyncSession, request: KeyRequest, *, secret_key: str
) -> IssuedApiKey:
    """Add a key in the caller's transaction (flushed, not committed)."""
    for attempt in range(3):
        row, token = request.new_row(secret_key)
        try:
            # A savepoint, so that a (very unlikely) prefix collision costs one retry.
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        return _issued(row, token)
    raise AssertionError("unreachable")


def create_api_key_sync(engine: Engine, request: KeyRequest, *, secret_key: str) -> IssuedApiKey:
    """The same, committed, for the CLI and scripts that hold a synchronous engine."""
    row, token = request.new_row(secret_key)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(row)
    return _issued(row, token)


def _owned_by(tenant_id: int | None):
    return ApiKey.tenant_id.is_(None) if tenant_id is None else ApiKey.tenant_id == tenant_id


async def revoke_api_key(session: AsyncSession, key_id: int, *, tenant_id: int | None) -> bool:
    """Revoke one of `tenant_id`'s keys (None: a platform key). False if it has no such key."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, _owned_by(tenant_id))
        .where(ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiKey.id)
    )
    if result.scalar() is not None:
        return True
    # Revoking an already revoked key is not an error; a key of someone else is.
    return (
        await session.scalar(select(ApiKey.id).where(ApiKey.id == key_id, _owned_by(tenant_id)))
        is not None
    )


async def list_api_keys(session: AsyncSession, *, tenant_id: int | None) -> list[ApiKey]:
    return list(
        await session.scalars(select(ApiKey).where(_owned_by(tenant_id)).order_by(ApiKey.id))
    )


async def find_api_key(session: AsyncSession, prefix: str) -> ApiKeyRecord | None:
    row = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        return None
    return ApiKeyRecord(
        id=row.id,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        scopes=frozenset(row.scopes),
        tenant_id=row.tenant_id,
        reseller_id=row.reseller_id,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )


async def record_key_use(session: AsyncSession, key_id: int, *, min_interval_seconds: int) -> None:
    """Stamp last_used_at, unless another process did within the interval."""
    now = utcnow()
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at < now - timedelta(seconds=min_interval_seconds),
            )
        )
        .values(last_used_at=now)
    )
