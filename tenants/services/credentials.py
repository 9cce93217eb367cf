"""Service passwords, encrypted at rest.

RADIUS needs a PPPoE or hotspot password back in clear text (CHAP), so it is encrypted
rather than hashed: Fernet (AES with an HMAC) under a key derived from KIUNGA_SECRET_KEY
for this purpose only. Rotating the secret key makes stored passwords unreadable, so they
must be set again. A password never appears in a log line, an event or an API response.
"""

from __future__ import annotations

from kiunga.platform.auth.sealing import Sealer

PURPOSE = "service-passwords"
_SEALER = Sealer(PURPOSE, "password")
MAX_PASSWORD_LENGTH = 64


def encrypt_password(password: str, *, secret_key: str | None = None) -> str:
    return _SEALER.seal(password, secret_key=secret_key)


def decrypt_password(token: str, *, secret_key: str | None = None) -> str:
    return _SEALER.open(token, secret_key=secret_key)
