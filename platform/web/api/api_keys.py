"""/api/v1/api-keys: an ISP's API keys. Creating one returns the full key, once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from kiunga.platform.auth.api_keys import (
    KeyRequest,
    bounded_by_caller,
    create_api_key,
    list_api_keys,
    revoke_api_key,
    validate_key_request,
)
from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.auth.scopes import API_KEYS_MANAGE
from kiunga.platform.db.base import utcnow
from kiunga.platform.models import ApiKey
from kiunga.platform.web.dependencies import (
    CurrentPrincipal,
    CurrentTenant,
    PlatformSession,
    Services,
)
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes, tenant_only
from kiunga.platform.web.inputs import Id, Text
from litestar import Controller, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    scopes: list[Text]
    name: Text = ""
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    reseller_id: Id | None = None


class ApiKeyRead(msgspec.Struct):
    id: int
    prefix: str
    name: str
    scopes: list[str]
    reseller_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyRead:
        return cls(
            id=row.id,
            prefix=row.prefix,
            name=row.name,
            scopes=list(row.scopes),
            reseller_id=row.reseller_id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(msgspec.Struct):
    id: int
    prefix: str
    name: str
    scopes: list[str]
    expires_at: datetime | None
    key: str  # the only time the secret is ever shown


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]
    guards = [tenant_only, requires_scopes(API_KEYS_MANAGE)]
    security = [{"BearerAuth": []}]

    @get(summary="List this ISP's API keys (never their secrets)")
    async def list_keys(
        self,
        tenant: CurrentTenant,
        platform_session: PlatformSession,
    ) -> list[ApiKeyRead]:
        keys = await list_api_keys(platform_session, tenant_id=tenant.id)
        return [ApiKeyRead.of(key) for key in keys]

    @post(summary="Create an API key; the response holds the key, shown only this once")
    async def create_key(
        self,
        tenant: CurrentTenant,
        principal: CurrentPrincipal,
        services: Services,
        platform_session: PlatformSession,
        data: JSONBody[ApiKeyCreate],
    ) -> ApiKeyCreated:
        if data.expires_at is not None and data.expires_at <= utcnow():
            raise FieldError("expires_at", "expires_at must be in the future")
        request = KeyRequest(
            scopes=data.scopes,
            tenant_id=tenant.id,
            name=data.name,
            reseller_id=data.reseller_id,
            expires_at=data.expires_at,
            created_by_staff_id=(
                principal.staff_id if isinstance(principal, StaffPrincipal) else None
            ),
        )
        # Scopes unknown to a tenant key (or ISP-wide on a reseller's) are bad input
        # whoever asks; only then is the request measured against the caller.
        validate_key_request(data.name, data.scopes, tenant.id, data.reseller_id)
        issued = await create_api_key(
            platform_session,
            bounded_by_caller(request, principal),
            secret_key=services.settings.secret_key,
        )
        return ApiKeyCreated(
            id=issued.id,
            prefix=issued.prefix,
            name=issued.name,
            scopes=list(issued.scopes),
            expires_at=issued.expires_at,
            key=issued.token,
        )

    @delete("/{key_id:int}", summary="Revoke an API key")
    async def revoke_key(
        self,
        tenant: CurrentTenant,
        services: Services,
        platform_session: PlatformSession,
        key_id: FromPath[Id],
    ) -> None:
        if not await revoke_api_key(platform_session, key_id, tenant_id=tenant.id):
            raise NotFoundException(f"no API key with id {key_id}")
        await platform_session.commit()
        services.api_keys.invalidate()
