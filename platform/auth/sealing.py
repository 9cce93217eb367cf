"""Secrets Kiunga must use again in clear text (router and provider credentials, service
passwords), sealed at rest.

They are encrypted rather than hashed: Fernet (AES with an HMAC) under a key derived from
KIUNGA_SECRET_KEY for one purpose only, so that a value sealed for one purpose never opens
as another. Rotating the secret key makes them unreadable: they must be set again. A sealed
value never appears in a log line, an event or an API answer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from kiunga.platform.auth.derived_keys import derive_key
from kiunga.platform.settings import get_settings


@dataclass(frozen=True)
class Sealer:
    purpose: str
    # What a value is, for the error when it was sealed under another secret key.
    what: str

    def _fernet(self, secret_key: str | None) -> Fernet:
        secret = secret_key if secret_key is not None else get_settings().secret_key
        return Fernet(base64.urlsafe_b64encode(derive_key(secret, self.purpose)))

    def seal(self, value: str, *, secret_key: str | None = None) -> str:
        return self._fernet(secret_key).encrypt(value.encode()).decode()

    def open(self, token: str, *, secret_key: str | None = None) -> str:
        try:
            return self._fernet(secret_key).decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(f"the {self.what} was stored under another secret key") from exc
