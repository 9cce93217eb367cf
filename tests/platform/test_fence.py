"""The fence is one property of every principal: a reseller's key and an agent signed in are
confined to their reseller record, every other staff member reaches the whole ISP."""

from __future__ import annotations

from kiunga.platform.auth.fence import WHOLE_ISP, Fence, fence_for, fence_of
from kiunga.platform.auth.principals import ApiKeyPrincipal, StaffPrincipal
from kiunga.platform.models import StaffRole
from sqlalchemy import Column, Integer, MetaData, Table, select

ROWS = Table("rows", MetaData(), Column("id", Integer), Column("reseller_id", Integer))


def staff(role: StaffRole, reseller_id: int | None = None) -> StaffPrincipal:
    return StaffPrincipal(1, "a@example.test", "A", 1, role, False, frozenset(), reseller_id)


def key(reseller_id: int | None) -> ApiKeyPrincipal:
    return ApiKeyPrincipal(1, "kiu_x", 1, reseller_id, frozenset())


def test_whose_fence():
    assert staff(StaffRole.AGENT, 7).fence == Fence(7) and key(7).fence == Fence(7)
    assert key(None).fence is not None and key(None).fence.whole_isp
    for role in (StaffRole.OWNER, StaffRole.ADMIN, StaffRole.TECHNICIAN):
        # A reseller record left on a membership that is no longer an agent's confines nothing.
        assert staff(role, 7).fence == WHOLE_ISP
    assert fence_for(None) == WHOLE_ISP and fence_of(None) is None
    assert fence_of(staff(StaffRole.AGENT, 7)) == 7 and fence_of(staff(StaffRole.OWNER)) is None


def test_confine_admits_and_narrow():
    query = select(ROWS.c.id)
    assert WHOLE_ISP.confine(query, ROWS.c.reseller_id) is query
    confined = Fence(7).confine(query, ROWS.c.reseller_id)
    assert "WHERE rows.reseller_id = :reseller_id_1" in str(confined)
    assert confined.compile().params == {"reseller_id_1": 7}
    assert Fence(7).admits(7) and not Fence(7).admits(8) and not Fence(7).admits(None)
    assert WHOLE_ISP.admits(None) and WHOLE_ISP.admits(8)
    assert Fence(7).narrow(8) == 7 and Fence(7).narrow(None) == 7 and WHOLE_ISP.narrow(8) == 8
