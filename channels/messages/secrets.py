"""Channel credentials (the Africa's Talking API key, the Twilio auth token) and the
callback path token, encrypted at rest.

The providers need the credentials back in clear text, so they are encrypted rather than
hashed: Fernet under a key derived from KIUNGA_SECRET_KEY for this purpose only (not the
M-Pesa one). They never appear in a log line, an event or an API answer (the API says only
whether each one is set). Path tokens are made and hashed as M-Pesa's are.
"""

from __future__ import annotations

from kiunga.platform.auth.sealing import Sealer
from kiunga.platform.webhook_routes import new_callback_token, token_hash

PURPOSE = "channel-credentials"
_SEALER = Sealer(PURPOSE, "channel credential")

__all__ = ["decrypt", "encrypt", "new_callback_token", "token_hash"]


def encrypt(value: str, *, secret_key: str | None = None) -> str:
    return _SEALER.seal(value, secret_key=secret_key)


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    return _SEALER.open(token, secret_key=secret_key)
