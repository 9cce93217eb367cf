"""A small in-process cache with a time to live, for host and API key lookups.

Misses are cached too (as None) so that a scanner trying random host names does not turn
every request into a database query; creating or disabling a tenant through this process
clears the cache, and other processes catch up within the TTL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

ABSENT = object()


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
        on_size_change: Callable[[int], None] | None = None,
    ):
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._on_size_change = on_size_change or (lambda size: None)

    def get(self, key: K):
        """The cached value (possibly None, a cached miss), or ABSENT."""
        entry = self._entries.get(key)
        if entry is None:
            return ABSENT
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            self._on_size_change(len(self._entries))
            return ABSENT
        return value

    def set(self, key: K, value: V) -> None:
        if self.ttl_seconds <= 0:
            return
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._evict()
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._on_size_change(len(self._entries))

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        # Still full: drop the oldest tenth (dicts keep insertion order).
        if len(self._entries) >= self.max_entries:
            for key in list(self._entries)[: max(1, self.max_entries // 10)]:
                del self._entries[key]

    def invalidate(self, key: K) -> None:
        if self._entries.pop(key, None) is not None:
            self._on_size_change(len(self._entries))

    def clear(self) -> None:
        self._entries.clear()
        self._on_size_change(0)

    def __len__(self) -> int:
        return len(self._entries)
