"""A small in-process brake on password guessing.

Failures are counted per (address, email) pair, per address and per email, each with its
own limit: the pair's is low, to stop one client guessing one password; the others are
higher, so that an office behind one NAT address, or someone failing on purpose against a
colleague's email, does not lock everyone out at once. Per process (each API worker
counts on its own): enough to make online guessing slow without a Redis round trip.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

DEFAULT_LIMITS = {"pair": 10, "address": 50, "email": 50}


def throttle_keys(address: str, email: str) -> dict[str, str]:
    return {"pair": f"{address}|{email}", "address": address, "email": email}


class LoginThrottle:
    def __init__(
        self,
        *,
        limits: dict[str, int] | None = None,
        window_seconds: float = 900,
        max_tracked: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = limits or DEFAULT_LIMITS
        self.window_seconds = window_seconds
        self.max_tracked = max_tracked
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def is_blocked(self, keys: dict[str, str]) -> bool:
        return any(
            len(self._recent(f"{kind}:{key}")) >= self.limits[kind] for kind, key in keys.items()
        )

    def record_failure(self, keys: dict[str, str]) -> None:
        if len(self._failures) >= self.max_tracked:
            # Under a flood of distinct keys, forget the oldest rather than grow without end.
            for stale in list(self._failures)[: self.max_tracked // 10]:
                del self._failures[stale]
        now = self._clock()
        for kind, key in keys.items():
            self._failures.setdefault(f"{kind}:{key}", deque()).append(now)

    def reset(self, keys: dict[str, str], kinds: tuple[str, ...] = ("pair",)) -> None:
        """After a success: forget the pair's failures (not the address's or email's)."""
        for kind in kinds:
            self._failures.pop(f"{kind}:{keys[kind]}", None)
