"""The brake on password guessing, shared by every web process through Redis.

Each sign-in takes a slot before its password is checked (see attempts.py), per (source,
email) pair and per source; a sign-in that succeeds gives its slots back. The pair's
limit is low, to stop one client guessing one password; the source's is higher, so that
an office behind one NAT address is not locked out by one forgetful colleague. There is
no limit on an email alone: strangers failing on purpose against someone's email must not
lock that person out from their own address. A source is an IPv4 address or an IPv6 /64.
Without Redis each process counts in its own memory: guesses never go uncounted, and an
outage does not lock staff out of the console.
"""

from __future__ import annotations

import hashlib

from kiunga.platform.auth.attempts import (
    AttemptLimiter,
    CounterUnavailable,
    Limited,
    WhenRedisIsAway,
    source_of,
)
from redis.asyncio import Redis

DEFAULT_LIMITS = {"pair": 10, "address": 50}
WINDOW_SECONDS = 900

__all__ = ["DEFAULT_LIMITS", "CounterUnavailable", "Limited", "LoginThrottle", "throttle_keys"]


def throttle_keys(address: str | None, email: str) -> dict[str, str]:
    source = source_of(address)
    # Hashed: an email of any length makes a short key, and Redis holds no addresses.
    pair = hashlib.sha256(f"{source}|{email}".encode()).hexdigest()[:32]
    return {"pair": pair, "address": source}


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        limits: dict[str, int] | None = None,
        window_seconds: int = WINDOW_SECONDS,
    ):
        self._limiter = AttemptLimiter(
            redis,
            "kiunga:signin",
            limits or DEFAULT_LIMITS,
            window_seconds,
            when_away=WhenRedisIsAway.COUNT_HERE,
        )

    async def take(self, keys: dict[str, str]) -> Limited | None:
        """Count a sign-in before its password is checked; Limited when refused,
        CounterUnavailable when it cannot be counted."""
        return await self._limiter.take(keys)

    async def succeeded(self, keys: dict[str, str]) -> None:
        """Forget the pair's failures and give the source its slot back."""
        await self._limiter.forget({"pair": keys["pair"]})
        await self._limiter.give_back({"address": keys["address"]})

    async def not_checked(self, keys: dict[str, str]) -> None:
        """The password could not be checked (busy): the attempt does not count."""
        await self._limiter.give_back(keys)
