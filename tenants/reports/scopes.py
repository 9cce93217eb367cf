"""The reports' scope: owners, admins and finance read the ISP's figures."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

REPORTS_READ = "reports:read"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (Scope(REPORTS_READ, roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE}),)
