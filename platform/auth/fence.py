"""The caller's fence: how much of one ISP a caller may reach.

An owner's key or a staff member reaches the whole ISP. A reseller's key, or an agent
signed in to the console, reaches only what belongs to one reseller record: that record's
id is the fence. Every principal carries its `fence` (one rule for keys and staff alike, so
no area can forget agents), and `fence_of(principal)` reads its reseller id. Every API route
says which of the two callers it serves (`Reach`); a route that says nothing covers the
whole ISP, and one guard (`fence_guard` in the web kit) turns fenced callers away from it.
Routes that serve fenced callers confine what they read and change with the fence:
`fence.confine(query, Model.reseller_id)`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


@dataclass(frozen=True, slots=True)
class Fence:
    """The part of an ISP a caller reaches: all of it (`reseller_id` None) or one reseller
    record's share."""

    reseller_id: int | None = None

    @property
    def whole_isp(self) -> bool:
        return self.reseller_id is None

    def admits(self, reseller_id: int | None) -> bool:
        """Whether something belonging to `reseller_id` (None: to the ISP itself) is inside."""
        return self.reseller_id is None or reseller_id == self.reseller_id

    def confine(self, query, column):
        """`query` narrowed to rows whose `column` (a reseller id) is inside the fence."""
        return query if self.reseller_id is None else query.where(column == self.reseller_id)

    def narrow(self, requested: int | None) -> int | None:
        """The reseller a list is filtered by: a fenced caller's own whatever it asked for."""
        return requested if self.reseller_id is None else self.reseller_id


WHOLE_ISP = Fence()


def fence_for(principal: Principal | None) -> Fence:
    return principal.fence if principal is not None else WHOLE_ISP


def fence_of(principal: Principal | None) -> int | None:
    """The reseller record the caller is confined to; None when it reaches the whole ISP."""
    return fence_for(principal).reseller_id


def reach_of(opt: dict) -> Reach:
    return Reach(opt.get(REACH_OPT, Reach.ISP))
