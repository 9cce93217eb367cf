"""M-Pesa credentials and the callback path token, encrypted at rest.

Daraja needs the consumer secret, passkey and initiator credential back in clear text, so
they are encrypted rather than hashed: Fernet under a key derived from KIUNGA_SECRET_KEY for
this purpose only. They never appear in a log line, an event or an API answer (the API says
only whether each one is set).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.settings import get_settings

PURPOSE = "mpesa-credentials"
TOKEN_BYTES = 24


def _fernet(secret_key: str | None) -> Fernet:
    secret = secret_key if secret_key is not None else get_settings().secret_key
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, PURPOSE)))


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the M-Pesa credential was stored under another secret key") from exc


def new_callback_token() -> str:
    """A path segment nobody can guess: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    # The token is random and long, so a plain digest is enough to keep it out of the
    # shared table; unlike a keyed hash it survives a rotation of KIUNGA_SECRET_KEY.
    return hashlib.sha256(token.encode()).hexdigest()
