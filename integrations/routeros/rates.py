"""A package's rate limit as RouterOS writes it: "upload/download", e.g. "5M/10M".

Both a simple queue's max-limit (target upload/target download) and a hotspot or PPP
profile's rate-limit (rx/tx as the router sees the client: the client's upload first) take
the two figures in that order, so one string serves both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^(\d+(?:\.\d+)?)([kKMG]?)$")
_FACTOR = {"": 1, "k": 1_000, "K": 1_000, "M": 1_000_000, "G": 1_000_000_000}


def bits_per_second(rate: str) -> int:
    """'5M' → 5000000; '512k' → 512000; '0' → 0 (unlimited, to RouterOS)."""
    match = _RATE.match(rate.strip())
    if not match:
        raise ValueError(f"not a RouterOS rate: {rate!r} (expected e.g. 512k, 5M, 1G)")
    return int(float(match.group(1)) * _FACTOR[match.group(2)])


@dataclass(frozen=True)
class RateLimit:
    upload: str
    download: str

    def __post_init__(self) -> None:
        bits_per_second(self.upload)
        bits_per_second(self.download)

    @classmethod
    def parse(cls, text: str | RateLimit) -> RateLimit:
        """'5M/10M' → upload 5M, download 10M; a single figure limits both ways."""
        if isinstance(text, RateLimit):
            return text
        upload, slash, download = str(text).strip().partition("/")
        return cls(upload.strip(), (download if slash else upload).strip())

    @property
    def upload_bps(self) -> int:
        return bits_per_second(self.upload)

    @property
    def download_bps(self) -> int:
        return bits_per_second(self.download)

    def __str__(self) -> str:
        return f"{self.upload}/{self.download}"
