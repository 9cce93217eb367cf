"""M-Pesa credentials and the callback path token, encrypted at rest.

Daraja needs the consumer secret, passkey and initiator credential back in clear text, so
they are encrypted rather than hashed: Fernet under a key derived from KIUNGA_SECRET_KEY for
this purpose only. They never appear in a log line, an event or an API answer (the API says
only whether each one is set).
"""

from __future__ import annotations

import hashlib
import secrets

from kiunga.platform.auth.sealing import Sealer

PURPOSE = "mpesa-credentials"
_SEALER = Sealer(PURPOSE, "M-Pesa credential")
TOKEN_BYTES = 24


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _SEALER.seal(value, secret_key=secret_key)


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    return _SEALER.open(token, secret_key=secret_key)


def new_callback_token() -> str:
    """A path segment nobody can guess: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    # The token is random and long, so a plain digest is enough to keep it out of the
    # shared table; unlike a keyed hash it survives a rotation of KIUNGA_SECRET_KEY.
    return hashlib.sha256(token.encode()).hexdigest()
