"""Router API passwords and RADIUS shared secrets, encrypted at rest.

Both must be used in clear text (to log in to a router, to sign RADIUS packets), so they
are encrypted rather than hashed, the way M-Pesa's credentials are: Fernet under a key
derived from KIUNGA_SECRET_KEY for this purpose only. They never appear in a log line, an
event or an API answer.
"""

from __future__ import annotations

from kiunga.platform.auth.sealing import Sealer

PURPOSE = "network-credentials"
_SEALER = Sealer(PURPOSE, "router credential")


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _SEALER.seal(value, secret_key=secret_key)


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    return _SEALER.open(token, secret_key=secret_key)
