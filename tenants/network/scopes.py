"""The network's scopes: routers and their credentials. Owners, admins and technicians set
them up; support looks (is the caller's router up?)."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

NETWORK_READ = "network:read"
NETWORK_WRITE = "network:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(
        NETWORK_READ,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.TECHNICIAN},
    ),
    Scope(NETWORK_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.TECHNICIAN}),
)
