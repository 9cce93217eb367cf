"""The catalog's scopes: everyone looks at the packages; owners and admins price them."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

PACKAGES_READ = "packages:read"
PACKAGES_WRITE = "packages:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(
        PACKAGES_READ,
        roles={
            StaffRole.OWNER,
            StaffRole.ADMIN,
            StaffRole.FINANCE,
            StaffRole.SUPPORT,
            StaffRole.TECHNICIAN,
        },
        fenced=True,
    ),
    Scope(PACKAGES_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
)
