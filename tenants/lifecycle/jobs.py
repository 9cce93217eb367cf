"""The lifecycle's periodic job: every five minutes, for every active tenant."""

from __future__ import annotations

import logging

from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.registry import periodic
from kiunga.tenants.lifecycle.run import run_lifecycle

log = logging.getLogger("kiunga.lifecycle")


@periodic("lifecycle.run", cron="*/5 * * * *", timeout=1200)
async def lifecycle_run(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    # The clock is the run's own, not `scheduled_for`: a run that starts late (a retry, a
    # worker that was down) must still see every period that ended before it started.
    report = await run_lifecycle(ctx.session, now=utcnow())
    if any(report.as_dict().values()):
        log.info("lifecycle %s: %s", tenant_slug, report.as_dict())
    return report.as_dict()
