"""The network's periodic job: every three minutes, for every active ISP, each api-mode
router is asked for its identity and resources, and what it said (or why it did not
answer) is kept on the router for the console."""

from __future__ import annotations

import logging

from kiunga.platform.jobs.registry import periodic
from kiunga.tenants.network.status import poll_routers

log = logging.getLogger("kiunga.network")


@periodic("network.poll_routers", cron="*/3 * * * *", timeout=170)
async def network_poll_routers(ctx, tenant_slug: str, scheduled_for) -> dict[str, int]:
    # Routers are asked outside the job's transaction; each answer is saved in its own.
    report = await poll_routers(ctx.database, ctx.tenant.schema)
    if report["unreachable"]:
        log.info("network poll %s: %s", tenant_slug, report)
    return report
