"""The sites' scopes: everyone looks; owners, admins and technicians set sites up."""

from __future__ import annotations

from kiunga.platform.auth.scopes import OFFICE_ROLES, Scope
from kiunga.platform.models import StaffRole

SITES_READ = "sites:read"
SITES_WRITE = "sites:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(SITES_READ, roles=OFFICE_ROLES, fenced=True),
    Scope(SITES_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.TECHNICIAN}),
)
