"""Router API passwords and RADIUS shared secrets, encrypted at rest.

Both must be used in clear text (to log in to a router, to sign RADIUS packets), so they
are encrypted rather than hashed, the way M-Pesa's credentials are: Fernet under a key
derived from KIUNGA_SECRET_KEY for this purpose only. They never appear in a log line, an
event or an API answer.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.settings import get_settings

PURPOSE = "network-credentials"


def _fernet(secret_key: str | None) -> Fernet:
    secret = secret_key if secret_key is not None else get_settings().secret_key
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, PURPOSE)))


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the router credential was stored under another secret key") from exc
