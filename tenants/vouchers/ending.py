"""A voucher's service ends with the voucher: when its validity runs out (the lifecycle
run), when its data cap is reached (the accounting writer), or when staff revoke it.

The voucher becomes used up (or revoked, by its caller) and its service is terminated,
not merely expired: a voucher is never renewed, so its login leaves the routers and the
RADIUS caches (`service.terminated` drives both) instead of piling up there. The
subscriber's status is not brought in line: the walk-in subscriber holds every voucher's
service and must stay active after each of them ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kiunga.tenants.services.events import emit_many
from kiunga.tenants.services.lifecycle import event_payload
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.models import Voucher, VoucherStatus
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession


async def end_services(
    session: AsyncSession, service_ids: Iterable[int], *, now: datetime, reason: str
) -> list[int]:
    """Terminate these services (those not terminated yet); returns their ids."""
    ids = sorted(set(service_ids))
    if not ids:
        return []
    result = await session.execute(
        update(Service)
        .where(Service.id.in_(ids), Service.status != ServiceStatus.TERMINATED)
        .values(status=ServiceStatus.TERMINATED, terminated_at=now)
        .returning(Service)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    services = list(result.scalars().all())
    await emit_many(
        session, "service.terminated", [event_payload(s, reason=reason) for s in services]
    )
    return [s.id for s in services]


async def use_up_vouchers_of(
    session: AsyncSession, service_ids: Iterable[int], *, now: datetime, reason: str
) -> set[int]:
    """The active vouchers behind these services become used up and their services end;
    returns the ids of the services that were a voucher's."""
    ids = sorted(set(service_ids))
    if not ids:
        return set()
    result = await session.execute(
        update(Voucher)
        .where(Voucher.service_id.in_(ids), Voucher.status == VoucherStatus.ACTIVE)
        .values(status=VoucherStatus.USED_UP, ended_at=now)
        .returning(Voucher.service_id)
        .execution_options(synchronize_session=False)
    )
    ended = set(result.scalars().all())
    await end_services(session, ended, now=now, reason=reason)
    return ended
