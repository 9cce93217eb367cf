"""M-Pesa's scope: money moves under billing:read/billing:write; the paybill's credentials
and callback addresses (mpesa:settings) are for owners and admins only."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

MPESA_SETTINGS = "mpesa:settings"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (Scope(MPESA_SETTINGS, roles={StaffRole.OWNER, StaffRole.ADMIN}),)
