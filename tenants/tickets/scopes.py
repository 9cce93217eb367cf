"""The tickets' scopes: everyone who talks to subscribers or goes out to them."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

TICKETS_READ = "tickets:read"
TICKETS_WRITE = "tickets:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(
        TICKETS_READ,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.TECHNICIAN},
        fenced=True,
    ),
    Scope(
        TICKETS_WRITE,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.TECHNICIAN},
        fenced=True,
    ),
)
