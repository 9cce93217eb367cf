"""/api/v1/lifecycle/settings: the tenant's grace period, reminder lead time and postpaid
payment terms, in days. Reading needs billing:read, changing billing:write."""

from __future__ import annotations

import msgspec
from kiunga.platform.web.controllers import TenantApiController
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.errors import FieldError
from kiunga.platform.web.guards import requires_scopes
from kiunga.platform.web.inputs import Count
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from kiunga.tenants.services.models import DEFAULT_SETTINGS
from kiunga.tenants.services.settings import billing_settings, update_billing_settings
from litestar import get, patch
from litestar.params import JSONBody


class LifecycleSettings(msgspec.Struct):
    grace_days: int
    reminder_days_before: int
    postpaid_due_days: int


class LifecycleSettingsChange(msgspec.Struct, forbid_unknown_fields=True):
    grace_days: Count | None = None
    reminder_days_before: Count | None = None
    postpaid_due_days: Count | None = None


class LifecycleSettingsController(TenantApiController):
    path = "/api/v1/lifecycle/settings"
    tags = ["lifecycle"]

    @get(guards=[requires_scopes(BILLING_READ)], summary="Grace period and reminder settings")
    async def read(self, tenant_session: TenantSession) -> LifecycleSettings:
        current = await billing_settings(tenant_session)
        return LifecycleSettings(**{key: getattr(current, key) for key in DEFAULT_SETTINGS})

    @patch(guards=[requires_scopes(BILLING_WRITE)], summary="Change them")
    async def change(
        self, tenant_session: TenantSession, data: JSONBody[LifecycleSettingsChange]
    ) -> LifecycleSettings:
        changes = {k: v for k in DEFAULT_SETTINGS if (v := getattr(data, k)) is not None}
        for key, value in changes.items():
            if not 0 <= value <= 365:
                raise FieldError(key, f"{key} must be a whole number of days from 0 to 365")
        current = await update_billing_settings(tenant_session, **changes)
        return LifecycleSettings(**{key: getattr(current, key) for key in DEFAULT_SETTINGS})
