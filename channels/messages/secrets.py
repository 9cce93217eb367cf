"""Channel credentials (the Africa's Talking API key, the Twilio auth token) and the
callback path token, encrypted at rest.

The providers need the credentials back in clear text, so they are encrypted rather than
hashed: Fernet under a key derived from KIUNGA_SECRET_KEY for this purpose only (not the
M-Pesa one). They never appear in a log line, an event or an API answer (the API says only
whether each one is set). Path tokens are made and hashed as M-Pesa's are.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.settings import get_settings
from kiunga.tenants.mpesa.secrets import new_callback_token, token_hash

PURPOSE = "channel-credentials"

__all__ = ["decrypt", "encrypt", "new_callback_token", "token_hash"]


def _fernet(secret_key: str | None) -> Fernet:
    secret = secret_key if secret_key is not None else get_settings().secret_key
    return Fernet(base64.urlsafe_b64encode(derive_key(secret, PURPOSE)))


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the channel credential was stored under another secret key") from exc
