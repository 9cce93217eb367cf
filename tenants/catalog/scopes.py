"""The catalog's scopes: everyone looks at the packages; owners and admins price them."""

from __future__ import annotations

from kiunga.platform.auth.scopes import OFFICE_ROLES, Scope
from kiunga.platform.models import StaffRole

PACKAGES_READ = "packages:read"
PACKAGES_WRITE = "packages:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(PACKAGES_READ, roles=OFFICE_ROLES, fenced=True),
    Scope(PACKAGES_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)
