"""The vouchers' scopes: owners and admins make, revoke and sell batches; finance looks;
support looks and sells at the counter. An agent reads and sells only the batches assigned
to their reseller record (the membership's reseller_id confines them), and holds nothing
else."""

from __future__ import annotations

from kiunga.platform.auth.scopes import Scope
from kiunga.platform.models import StaffRole

VOUCHERS_READ = "vouchers:read"
VOUCHERS_WRITE = "vouchers:write"
VOUCHERS_SELL = "vouchers:sell"

# Declared in the manifest; `fenced`: a reseller's key may hold it (see Scope).
SCOPES = (
    Scope(
        VOUCHERS_READ,
        roles={
            StaffRole.OWNER,
            StaffRole.ADMIN,
            StaffRole.FINANCE,
            StaffRole.SUPPORT,
            StaffRole.AGENT,
        },
        fenced=True,
    ),
    Scope(VOUCHERS_WRITE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
    Scope(
        VOUCHERS_SELL,
        roles={StaffRole.OWNER, StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.AGENT},
        fenced=True,
    ),
)
