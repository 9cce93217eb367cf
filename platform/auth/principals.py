"""Who is making a request: a signed-in staff member or an API key.

Both expose `tenant_id` (None on the platform surface) and `scopes`, so that guards
check one thing whatever the credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.auth.fence import WHOLE_ISP, Fence
from kiunga.platform.models import StaffRole


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    staff_id: int
    email: str
    name: str
    tenant_id: int | None
    role: StaffRole | None
    is_platform_admin: bool
    scopes: frozenset[str]
    # An agent's reseller record: what they see of vouchers is confined to it.
    reseller_id: int | None = None
    # The account's session generation when loaded: written into a new session cookie.
    session_generation: int = 0

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @property
    def fence(self) -> Fence:
        # Only an agent is fenced: a reseller record on another role's membership (left
        # from when it was an agent's) confines nothing.
        return Fence(self.reseller_id) if self.role is StaffRole.AGENT else WHOLE_ISP


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    key_id: int
    prefix: str
    tenant_id: int | None
    reseller_id: int | None
    scopes: frozenset[str]
    # A key cannot make a key that outlives it.
    expires_at: datetime | None = None

    @property
    def fence(self) -> Fence:
        return Fence(self.reseller_id)


Principal = StaffPrincipal | ApiKeyPrincipal
