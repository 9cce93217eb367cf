"""What every billing endpoint shares: its controller base, who acted, a reseller's fence."""

from __future__ import annotations

from kiunga.platform.auth.fence import fence_for
from kiunga.platform.auth.principals import ApiKeyPrincipal, Principal, StaffPrincipal
from kiunga.platform.web import inputs, pagination
from kiunga.platform.web.controllers import FencedApiController
from kiunga.platform.web.errors import FieldError
from kiunga.tenants.actors import SYSTEM, Actor
from kiunga.tenants.subscribers.fence import inside_fence
from litestar.status_codes import HTTP_404_NOT_FOUND
from sqlalchemy.ext.asyncio import AsyncSession

# The billing lists' page parameters (M-Pesa's lists share them).
Limit = pagination.ShortLimit
Offset = inputs.Offset


class BillingApiController(FencedApiController):
    """Every billing endpoint is under the billing tag and serves fenced callers too (each
    confines what it reads and changes with `ensure_visible` or the fence's filter)."""

    tags = ["billing"]


def actor_of(principal: Principal | None) -> Actor:
    if isinstance(principal, StaffPrincipal):
        return Actor.staff(principal.staff_id, principal.email)
    if isinstance(principal, ApiKeyPrincipal):
        return Actor.api_key(principal.prefix)
    return SYSTEM


async def ensure_visible(
    session: AsyncSession, principal: Principal | None, subscriber_id: int, *, field: str
) -> None:
    """A reseller's key sees only its own subscribers; anything else answers as missing."""
    if not await inside_fence(session, fence_for(principal), subscriber_id):
        raise FieldError(
            field, f"no subscriber with id {subscriber_id}", status_code=HTTP_404_NOT_FOUND
        )
