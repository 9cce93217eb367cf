"""M-Pesa's periodic job: every minute, for every active tenant, callbacks stored but never
processed are processed (intake.reprocess_stored, each on its own: one that fails is
flagged and retried a few times, never blocking the others), and STK requests whose callback
is late are settled by STK Query (stk.settle_pending), whatever the reprocessing did."""

from __future__ import annotations

import logging

from kiunga.platform.jobs.registry import periodic
from kiunga.tenants.mpesa.intake import reprocess_stored
from kiunga.tenants.mpesa.stk import settle_pending

log = logging.getLogger("kiunga.mpesa")


@periodic("mpesa.settle_pending", cron="* * * * *", timeout=240)
async def mpesa_settle_pending(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    # Its own transactions (one per request, and none while Daraja is asked), not ctx's.
    # Settlement runs whatever reprocessing did: neither may hold the other's money back.
    try:
        reprocessed = await reprocess_stored(ctx.database, ctx.tenant.schema)
    except Exception:
        log.exception("mpesa reprocessing %s failed", tenant_slug)
        reprocessed = 0
    report = await settle_pending(ctx.database, ctx.tenant.schema)
    report["reprocessed"] = reprocessed
    if any(report.values()):
        log.info("mpesa settle %s: %s", tenant_slug, report)
    return report
