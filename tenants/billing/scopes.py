"""Billing's scopes: owners, admins and finance move money; support looks up balances for
callers."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

BILLING_READ = "billing:read"
BILLING_WRITE = "billing:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(
        BILLING_READ,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE, StaffRole.SUPPORT},
        fenced=True,
    ),
    Scope(BILLING_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE}, fenced=True),
)
