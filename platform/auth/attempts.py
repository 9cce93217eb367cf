"""Attempts counted in Redis before they are evaluated, shared by every process.

Counting failures after checking them lets a burst of concurrent guesses all be checked
before the first failure is written. Here each attempt takes a slot first, in one Lua
script (check every key, then count on every key, atomically): once a key is at its limit
nothing more is evaluated for it until its window ends. An attempt that turns out fine can
give its slot back.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger("kiunga.attempts")

# KEYS: the counters; ARGV[1]: the window in seconds, ARGV[1 + i]: the limit of KEYS[i].
# Answers {0, 0} when the attempt is counted, else {i, seconds left} for the first key
# at its limit (nothing is counted then, so a refused attempt costs no other key).
_TAKE = """
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then
      redis.call('EXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1])
    end
    return {i, ttl}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return {0, 0}
"""

# Gives one slot back on each key, never below zero.
_GIVE_BACK = """
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


def source_of(address: str | None) -> str:
    """Whom a client address stands for: an IPv4 address itself, an IPv6 address's /64
    (one subscriber line gets a whole /64, and picking a new address in it costs nothing)."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text[:64] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class CounterUnavailable(Exception):
    """Redis did not answer, and the limiter was told not to let attempts through then."""


class WhenRedisIsAway:
    """What a limiter does with an attempt Redis cannot count."""

    LET_THROUGH = "let through"
    # Count in this process's memory: each process brakes on its own (so guesses are bounded
    # by the limit times the processes), and nobody is locked out by an outage.
    COUNT_HERE = "count here"
    REFUSE = "refuse"  # CounterUnavailable


class _CountsHere:
    """The same fixed windows as the Lua scripts, in one process's memory. Event-loop code
    with no await inside a method, so each call is atomic like a script."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # name -> (count, window ends)

    def _current(self, name: str) -> tuple[int, float]:
        count, ends = self._counts.get(name, (0, 0.0))
        return (count, ends) if ends > self._clock() else (0, 0.0)

    def take(self, names: list[str], limits: list[int], window: int) -> tuple[int, int]:
        if len(self._counts) > 100_000:  # a flood of new keys: keep what is still running
            now = self._clock()
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
        for index, (name, limit) in enumerate(zip(names, limits, strict=True), start=1):
            count, ends = self._current(name)
            if count >= limit:
                return index, max(int(ends - self._clock()), 1)
        for name in names:
            count, ends = self._current(name)
            self._counts[name] = (count + 1, ends or self._clock() + window)
        return 0, 0

    def give_back(self, names: list[str]) -> None:
        for name in names:
            count, ends = self._current(name)
            if count > 0:
                self._counts[name] = (count - 1, ends)

    def forget(self, names: list[str]) -> None:
        for name in names:
            self._counts.pop(name, None)


@dataclass(frozen=True, slots=True)
class Limited:
    key: str  # the kind of key at its limit
    retry_after: int  # seconds


class AttemptLimiter:
    """Fixed windows, started by each key's first attempt; `limits` by kind of key;
    `when_away`: what happens to an attempt when Redis cannot count it."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        limits: Mapping[str, int],
        window: int,
        *,
        when_away: str = WhenRedisIsAway.LET_THROUGH,
    ):
        self.redis = redis
        self.prefix = prefix
        self.limits = dict(limits)
        self.window = window
        self.when_away = when_away
        self._here = _CountsHere()
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)

    def _names(self, keys: Mapping[str, str]) -> list[tuple[str, str]]:
        return [(kind, f"{self.prefix}:{kind}:{key}") for kind, key in keys.items()]

    async def take(self, keys: Mapping[str, str]) -> Limited | None:
        """Count one attempt on every key, or refuse it (Limited) when a key is at its
        limit. Redis being away is logged and handled as `when_away` says."""
        names = self._names(keys)
        if not names:
            return None
        limits = [self.limits[kind] for kind, _ in names]
        try:
            refused, ttl = await self._take(
                keys=[name for _, name in names], args=[self.window, *limits]
            )
        except RedisError as exc:
            log.warning("attempt counter unavailable", prefix=self.prefix, error=type(exc).__name__)
            if self.when_away == WhenRedisIsAway.LET_THROUGH:
                return None
            if self.when_away == WhenRedisIsAway.REFUSE:
                raise CounterUnavailable from None
            refused, ttl = self._here.take([name for _, name in names], limits, self.window)
        if int(refused) == 0:
            return None
        return Limited(names[int(refused) - 1][0], max(int(ttl), 1))

    async def give_back(self, keys: Mapping[str, str]) -> None:
        """The attempt went well: it does not count against these keys."""
        names = [name for _, name in self._names(keys)]
        if names:
            self._here.give_back(names)
            try:
                await self._give_back(keys=names)
            except RedisError as exc:
                log.warning("attempt counter unavailable", error=type(exc).__name__)

    async def forget(self, keys: Mapping[str, str]) -> None:
        """Start these keys afresh."""
        names = [name for _, name in self._names(keys)]
        if names:
            self._here.forget(names)
            try:
                await self.redis.delete(*names)
            except RedisError as exc:
                log.warning("attempt counter unavailable", error=type(exc).__name__)
