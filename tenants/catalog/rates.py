"""MikroTik rate limits as RouterOS writes them, parsed and checked before they reach a router.

The form (PPP profiles, hotspot user profiles and RADIUS Mikrotik-Rate-Limit alike) is

    rx/tx [rx-burst/tx-burst [rx-threshold/tx-threshold [rx-time/tx-time [prio [rx-min/tx-min]]]]]

`rx` and `tx` are seen from the router: it *receives* what the subscriber sends, so the first
figure of each pair is the subscriber's **upload** and the second their **download**.
"5M/10M" is 5 Mbit/s up and 10 Mbit/s down. A rate is bits per second with an optional
k (thousand) or M (million) suffix, or G; burst times are seconds; priority is 1–8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^(\d+)([kKmMgG]?)$")
_MULTIPLIER = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
MAX_LENGTH = 100


class InvalidRateLimit(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RatePair:
    """Bits per second: `upload` is the router's rx, `download` its tx."""

    upload: int
    download: int


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: RatePair
    burst_rate: RatePair | None = None
    burst_threshold: RatePair | None = None
    burst_time: RatePair | None = None  # seconds
    priority: int | None = None
    min_rate: RatePair | None = None


def parse_rate(text: str) -> int:
    match = _RATE.match(text)
    if not match:
        raise InvalidRateLimit(f"{text!r} is not a rate (a number with k, M or G, e.g. 512k)")
    return int(match.group(1)) * _MULTIPLIER[match.group(2).lower()]


def _pair(text: str, parse=parse_rate) -> RatePair:
    parts = text.split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidRateLimit(f"{text!r} is not an upload/download pair")
    # RouterOS takes a lone figure for both directions.
    upload = parse(parts[0])
    download = parse(parts[1]) if len(parts) == 2 else upload
    return RatePair(upload, download)


def _seconds(text: str) -> int:
    if not text.isdigit():
        raise InvalidRateLimit(f"{text!r} is not a burst time in seconds")
    return int(text)


def parse_rate_limit(text: str) -> RateLimit:
    """A RateLimit, or InvalidRateLimit saying what is wrong."""
    text = " ".join((text or "").split())
    if not text:
        raise InvalidRateLimit("a rate limit is required, e.g. 5M/10M (upload/download)")
    if len(text) > MAX_LENGTH:
        raise InvalidRateLimit(f"a rate limit is at most {MAX_LENGTH} characters")
    parts = text.split(" ")
    if len(parts) > 6:
        raise InvalidRateLimit("too many parts for a MikroTik rate limit")
    rate = _pair(parts[0])
    if rate.upload == 0 or rate.download == 0:
        raise InvalidRateLimit("the rate must be above zero")
    burst_rate = _pair(parts[1]) if len(parts) > 1 else None
    threshold = _pair(parts[2]) if len(parts) > 2 else None
    burst_time = _pair(parts[3], _seconds) if len(parts) > 3 else None
    if burst_rate is not None and (threshold is None or burst_time is None):
        raise InvalidRateLimit("a burst rate needs a burst threshold and a burst time too")
    priority = None
    if len(parts) > 4:
        if not parts[4].isdigit() or not 1 <= int(parts[4]) <= 8:
            raise InvalidRateLimit("priority must be a whole number from 1 to 8")
        priority = int(parts[4])
    min_rate = _pair(parts[5]) if len(parts) > 5 else None
    return RateLimit(rate, burst_rate, threshold, burst_time, priority, min_rate)


def clean_rate_limit(text: str) -> str:
    """The rate limit as it will be stored and sent to routers (spaces tidied)."""
    parse_rate_limit(text)
    return " ".join(text.split())
