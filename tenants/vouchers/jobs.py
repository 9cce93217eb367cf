"""The vouchers' periodic job: every five minutes, for every active tenant, unused vouchers
whose batch's expiry has passed are marked expired."""

from __future__ import annotations

import logging

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.registry import periodic
from kiunga.tenants.vouchers.batches import expire_unused

log = logging.getLogger("kiunga.vouchers")


@periodic("vouchers.expire_unused", cron="*/5 * * * *")
async def vouchers_expire_unused(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    # The run's own clock, like the lifecycle's: a late run still expires all that is due.
    expired = await expire_unused(ctx.session, now=utcnow())
    if expired:
        log.info("vouchers %s: %d unused vouchers expired", tenant_slug, expired)
    return {"expired": expired}
