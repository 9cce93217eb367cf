"""Redemption attempts, limited per device (MAC), per address (IP) and per source address,
counted in Redis so that every web worker sees the same counts.

Each attempt is counted before the code is looked at (see platform/auth/attempts.py), so a
burst of concurrent guesses cannot all be evaluated; an attempt that finds its code gives
its slot back, so only failures use the budget up. A fixed one-minute window per key,
started by its first attempt; at the limit the user is told how long to wait.
"""

from __future__ import annotations

from kiunga.platform.auth.attempts import AttemptLimiter, Limited, source_of
from prometheus_client import Counter
from redis.asyncio import Redis

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
    "Portal redemptions (key mac, ip, source) and purchases (key buy_*) refused for too "
    "many attempts, by key",
    ["key"],
)

# Payment prompts (STK pushes) asked for on /portal/buy, per window of BUY_WINDOW_SECONDS:
# one hotspot's users share its public address, hence the source's larger budget.
BUY_LIMITS = {"source": 20, "device": 3, "phone": 3}
BUY_WINDOW_SECONDS = 600

__all__ = [
    "BUY_LIMITS",
    "LIMIT",
    "SOURCE_LIMIT",
    "WINDOW_SECONDS",
    "BuyThrottle",
    "Limited",
    "RedeemThrottle",
]


def _keys(mac: str | None, ip: str | None, source: str | None) -> dict[str, str]:
    """The things counted. `ip` is the device's address as the router names it (qualified
    by the source), or the source itself without a router."""
    keys = {}
    if mac:
        keys["mac"] = mac
    if ip:
        keys["ip"] = ip
    if source and source != ip:
        keys["source"] = source_of(source)
    return keys


class RedeemThrottle:
    def __init__(self, redis: Redis, *, window: int = WINDOW_SECONDS):
        self.limits = {"mac": LIMIT, "ip": LIMIT, "source": SOURCE_LIMIT}
        self._redis = redis
        self.window = window

    def _limiter(self, tenant_id: int) -> AttemptLimiter:
        return AttemptLimiter(
            self._redis, f"kiunga:portal:attempts:{tenant_id}", self.limits, self.window
        )

    async def take(
        self, tenant_id: int, mac: str | None, ip: str | None, source: str | None = None
    ) -> Limited | None:
        """Count this attempt, or refuse it (Limited) when a key is at its limit. Redis
        being away lets it through: the codes' own randomness still protects them."""
        limited = await self._limiter(tenant_id).take(_keys(mac, ip, source))
        if limited is not None:
            RATE_LIMITED.labels(key=limited.key).inc()
        return limited

    async def succeeded(
        self, tenant_id: int, mac: str | None, ip: str | None, source: str | None = None
    ) -> None:
        """The code was good: the attempt does not count."""
        await self._limiter(tenant_id).give_back(_keys(mac, ip, source))


class BuyThrottle:
    """Payment prompts per source address, device and phone, counted before the prompt
    is sent: otherwise anyone could aim a stream of M-Pesa prompts at strangers' phones."""

    def __init__(self, redis: Redis):
        self._redis = redis

    def _limiter(self, tenant_id: int) -> AttemptLimiter:
        return AttemptLimiter(
            self._redis, f"kiunga:portal:buys:{tenant_id}", BUY_LIMITS, BUY_WINDOW_SECONDS
        )

    @staticmethod
    def keys(source: str | None, device: str | None, phone: str) -> dict[str, str]:
        keys = {"source": source_of(source), "phone": phone}
        if device:
            keys["device"] = device
        return keys

    async def take(self, tenant_id: int, keys: dict[str, str]) -> Limited | None:
        limited = await self._limiter(tenant_id).take(keys)
        if limited is not None:
            RATE_LIMITED.labels(key=f"buy_{limited.key}").inc()
        return limited

    async def not_sent(self, tenant_id: int, keys: dict[str, str]) -> None:
        """No prompt went out (refused before it): the attempt does not count."""
        await self._limiter(tenant_id).give_back(keys)
