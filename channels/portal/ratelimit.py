"""Failed redemptions, limited per device (MAC) and per address (IP) and per ISP, counted
in Redis so that every web worker sees the same counts.

A fixed one-minute window per key, started by its first failure: after LIMIT failures the
key is refused until the window ends, and the user is told how long that is.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("kiunga.portal")

LIMIT = 5
# The address requests come from: every user of one hotspot shares its public address, so
# it gets a larger budget; it bounds what one attacker forging router parameters can try.
SOURCE_LIMIT = 30
WINDOW_SECONDS = 60

REDEMPTIONS = Counter(
    "kiunga_portal_redeem_total",
    "Voucher codes entered on the captive portal, by outcome",
    ["outcome"],
)
RATE_LIMITED = Counter(
    "kiunga_portal_rate_limited_total",
    "Portal redemptions refused because a device or address failed too often, by key",
    ["key"],
)


@dataclass(frozen=True, slots=True)
class Limited:
    key: str  # "mac", "ip" or "source"
    retry_after: int  # seconds


def _keys(
    tenant_id: int, mac: str | None, ip: str | None, source: str | None
) -> list[tuple[str, str]]:
    """(kind, Redis key) for each thing counted. `ip` is the device's address as the
    router names it (qualified by the source), or the source itself without a router."""
    prefix = f"kiunga:portal:fail:{tenant_id}"
    keys = []
    if mac:
        keys.append(("mac", f"{prefix}:mac:{mac}"))
    if ip:
        keys.append(("ip", f"{prefix}:ip:{ip}"))
    if source and source != ip:
        keys.append(("source", f"{prefix}:source:{source}"))
    return keys


class RedeemThrottle:
    def __init__(self, redis: Redis, *, window: int = WINDOW_SECONDS):
        self.redis = redis
        self.window = window
        self.limits = {"mac": LIMIT, "ip": LIMIT, "source": SOURCE_LIMIT}

    async def check(
        self, tenant_id: int, mac: str | None, ip: str | None, source: str | None = None
    ) -> Limited | None:
        """Refused now? Redis being away lets the attempt through (and says so in the log):
        the codes' own randomness still protects them for that while."""
        keys = _keys(tenant_id, mac, ip, source)
        if not keys:
            return None
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, key in keys:
                    pipe.get(key)
                    pipe.ttl(key)
                answers = await pipe.execute()
        except RedisError as exc:
            log.warning("portal throttle unavailable", error=type(exc).__name__)
            return None
        for index, (kind, _) in enumerate(keys):
            count, ttl = answers[2 * index], answers[2 * index + 1]
            if count is not None and int(count) >= self.limits[kind]:
                RATE_LIMITED.labels(key=kind).inc()
                return Limited(kind, max(int(ttl), 1))
        return None

    async def failed(
        self, tenant_id: int, mac: str | None, ip: str | None, source: str | None = None
    ) -> None:
        keys = _keys(tenant_id, mac, ip, source)
        if not keys:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for _, key in keys:
                    pipe.incr(key)
                    pipe.expire(key, self.window, nx=True)
                await pipe.execute()
        except RedisError as exc:
            log.warning("portal throttle unavailable", error=type(exc).__name__)
