"""The subscribers' scopes: support signs subscribers up and changes their status;
technicians and finance look."""

from __future__ import annotations

from kiunga.platform.auth.scopes import OFFICE_ROLES, Scope
from kiunga.platform.models import StaffRole

SUBSCRIBERS_READ = "subscribers:read"
SUBSCRIBERS_WRITE = "subscribers:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(SUBSCRIBERS_READ, roles=OFFICE_ROLES, fenced=True),
    Scope(
        SUBSCRIBERS_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT}, fenced=True
    ),
)
