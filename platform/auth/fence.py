"""The caller's fence: how much of one ISP a caller may reach.

An owner's key or a staff member reaches the whole ISP. A reseller's key, or an agent
signed in to the console, reaches only what belongs to one reseller record: that record's
id is the fence. Every API route says which of the two callers it serves (`Reach`); a route
that says nothing covers the whole ISP, and one guard (`fence_guard` in the web kit) turns
fenced callers away from it. Routes that serve fenced callers confine what they read and
change with `fence_of`.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from kiunga.platform.auth.principals import ApiKeyPrincipal, StaffPrincipal
from kiunga.platform.models import StaffRole

if TYPE_CHECKING:
    from kiunga.platform.auth.principals import Principal

REACH_OPT = "reach"


class Reach(enum.StrEnum):
    # The whole ISP's data or settings: owners' keys and staff only.
    ISP = "isp"
    # Confined per call to the caller's fence: a reseller's key or an agent may use it.
    FENCED = "fenced"


# For a route handler's or controller's `opt`.
FENCED_CALLERS_ALLOWED = {REACH_OPT: Reach.FENCED}


def fence_of(principal: Principal | None) -> int | None:
    """The reseller record the caller is confined to; None when it reaches the whole ISP."""
    if isinstance(principal, ApiKeyPrincipal):
        return principal.reseller_id
    if isinstance(principal, StaffPrincipal) and principal.role is StaffRole.AGENT:
        return principal.reseller_id
    return None


def reach_of(opt: dict) -> Reach:
    return Reach(opt.get(REACH_OPT, Reach.ISP))
