"""The services' scopes: staff who connect subscribers (support, technicians) activate,
suspend, restore and terminate them at the catalog's price; changing a package (a prorated
credit note and invoice) or activating a prepaid service on trust also needs billing:write,
which only owners, admins and finance hold. Finance reads services but connects no one."""

from __future__ import annotations

from kiunga.platform.auth.scopes import OFFICE_ROLES, Scope
from kiunga.platform.models import StaffRole

SERVICES_READ = "services:read"
SERVICES_WRITE = "services:write"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(SERVICES_READ, roles=OFFICE_ROLES, fenced=True),
    Scope(
        SERVICES_WRITE,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.TECHNICIAN},
        fenced=True,
    ),
)
