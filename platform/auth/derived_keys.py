"""Keys for separate purposes, derived from the one KIUNGA_SECRET_KEY.

Each purpose (session cookies, CSRF tokens, API key hashes) gets its own key, so that a
value produced for one purpose can never be replayed as another. Rotating the secret key
rotates them all: sessions end, and every API key must be issued again.
"""

from __future__ import annotations

import hashlib
import hmac


def derive_key(secret_key: str, purpose: str) -> bytes:
    """32 bytes for `purpose`, from HMAC-SHA256 keyed by the installation's secret."""
    return hmac.new(secret_key.encode(), f"kiunga:{purpose}".encode(), hashlib.sha256).digest()
