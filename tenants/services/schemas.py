"""What the services API reads and writes. A password goes in, never out."""

from __future__ import annotations

from datetime import datetime

import msgspec
from kiunga.platform.web.inputs import Id, Text
from kiunga.tenants.services.models import Service


class ServiceCreate(msgspec.Struct, forbid_unknown_fields=True):
    subscriber_id: Id
    package_id: Id
    username: Text | None = None
    password: Text | None = None
    mac_address: Text | None = None
    static_ip: Text | None = None
    auto_renew: bool = True
    # False: create the service pending, to activate later.
    activate: bool = True
    # Activate a prepaid service although the credit does not cover the first period
    # (needs billing:write); the invoice stays open.
    allow_unpaid: bool = False


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text = ""


class ActivateBody(msgspec.Struct, forbid_unknown_fields=True):
    allow_unpaid: bool = False


class PackageChange(msgspec.Struct, forbid_unknown_fields=True):
    package_id: Id
    allow_unpaid: bool = False


class ServiceRead(msgspec.Struct):
    id: int
    subscriber_id: int
    package_id: int
    service_type: str
    username: str | None
    has_password: bool
    mac_address: str | None
    static_ip: str | None
    status: str
    auto_renew: bool
    activated_at: datetime | None
    period_start: datetime | None
    expires_at: datetime | None
    suspended_at: datetime | None
    suspension_reason: str | None
    terminated_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, service: Service) -> ServiceRead:
        return cls(
            id=service.id,
            subscriber_id=service.subscriber_id,
            package_id=service.package_id,
            service_type=str(service.service_type),
            username=service.username,
            has_password=service.password_encrypted is not None,
            mac_address=service.mac_address,
            static_ip=str(service.static_ip) if service.static_ip else None,
            status=str(service.status),
            auto_renew=service.auto_renew,
            activated_at=service.activated_at,
            period_start=service.period_start,
            expires_at=service.expires_at,
            suspended_at=service.suspended_at,
            suspension_reason=service.suspension_reason,
            terminated_at=service.terminated_at,
            created_at=service.created_at,
        )


class ServicePage(msgspec.Struct):
    items: list[ServiceRead]
    total: int
    limit: int
    offset: int
