"""Service passwords, encrypted at rest.

RADIUS needs a PPPoE or hotspot password back in clear text (CHAP), so it is encrypted
rather than hashed: Fernet (AES with an HMAC) under a key derived from KIUNGA_SECRET_KEY
for this purpose only. Rotating the secret key makes stored passwords unreadable, so they
must be set again. A password never appears in a log line, an event or an API response.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.settings import get_settings

PURPOSE = "service-passwords"
MAX_PASSWORD_LENGTH = 64


def _fernet(secret_key: str | None) -> Fernet:
    secret = secret_key if secret_key is not None else get_settings().secret_key
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, PURPOSE)))


def encrypt_password(password: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(password.encode()).decode()


def decrypt_password(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the password was stored under another secret key") from exc
