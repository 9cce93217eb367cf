"""What the routers API reads and writes. Passwords and shared secrets are write-only: an
answer says only whether each one is set."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Id, Port, Text
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.service import radius_source_address


class RouterCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    address: Text
    mode: Text = "api"
    site_id: Id | None = None
    api_port: Port | None = None  # 8728, or 8729 with use_tls
    use_tls: bool = False
    api_username: Text | None = None
    api_password: Text | None = None
    radius_secret: Text | None = None
    radius_source_address: Text | None = None  # defaults to address when that is an IP
    coa_port: Port | None = None  # 3799
    require_message_authenticator: bool = False


class RouterUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; a secret is replaced only when given. A null
    site_id or radius_source_address clears it."""

    name: Text | msgspec.UnsetType = msgspec.UNSET
    address: Text | msgspec.UnsetType = msgspec.UNSET
    mode: Text | msgspec.UnsetType = msgspec.UNSET
    site_id: Id | None | msgspec.UnsetType = msgspec.UNSET
    api_port: Port | msgspec.UnsetType = msgspec.UNSET
    use_tls: bool | msgspec.UnsetType = msgspec.UNSET
    api_username: Text | None | msgspec.UnsetType = msgspec.UNSET
    api_password: Text | msgspec.UnsetType = msgspec.UNSET
    radius_secret: Text | msgspec.UnsetType = msgspec.UNSET
    radius_source_address: Text | None | msgspec.UnsetType = msgspec.UNSET
    coa_port: Port | msgspec.UnsetType = msgspec.UNSET
    require_message_authenticator: bool | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, object]:
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }


class RouterRead(msgspec.Struct):
    id: int
    name: str
    site_id: int | None
    address: str
    api_port: int
    use_tls: bool
    api_username: str | None
    api_password_set: bool
    mode: str
    radius_secret_set: bool
    radius_source_address: str | None
    coa_port: int
    require_message_authenticator: bool
    online: bool
    last_seen_at: datetime | None
    identity: str | None
    routeros_version: str | None
    uptime_seconds: int | None
    cpu_load: int | None
    free_memory: int | None
    total_memory: int | None
    last_error: str | None
    last_error_at: datetime | None
    # api-ssl: the certificate pinned on first use, and one refused for not matching it.
    tls_fingerprint: str | None
    tls_pinned_at: datetime | None
    tls_refused_fingerprint: str | None
    tls_refused_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, router: Router) -> RouterRead:
        return cls(
            id=router.id,
            name=router.name,
            site_id=router.site_id,
            address=router.address,
            api_port=router.api_port,
            use_tls=router.use_tls,
            api_username=router.api_username,
            api_password_set=router.api_password_encrypted is not None,
            mode=router.mode.value,
            radius_secret_set=router.radius_secret_encrypted is not None,
            radius_source_address=radius_source_address(router),
            coa_port=router.coa_port,
            require_message_authenticator=router.require_message_authenticator,
            online=router.online,
            last_seen_at=router.last_seen_at,
            identity=router.identity,
            routeros_version=router.routeros_version,
            uptime_seconds=router.uptime_seconds,
            cpu_load=router.cpu_load,
            free_memory=router.free_memory,
            total_memory=router.total_memory,
            last_error=router.last_error,
            last_error_at=router.last_error_at,
            tls_fingerprint=router.tls_fingerprint,
            tls_pinned_at=router.tls_pinned_at,
            tls_refused_fingerprint=router.tls_refused_fingerprint,
            tls_refused_at=router.tls_refused_at,
            created_at=router.created_at,
            updated_at=router.updated_at,
        )


class ConnectionCheck(msgspec.Struct):
    ok: bool
    message: str
    router: RouterRead
