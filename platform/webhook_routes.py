"""The secret path tokens that name an ISP on a provider's callbacks (Daraja's, Africa's
Talking's, Twilio's): made here, kept in `platform.webhook_routes` only as a SHA-256, one
per ISP and provider. The area that owns the callbacks keeps its own sealed copy of the
token, to show the ISP its callback addresses."""

from __future__ import annotations

import hashlib
import secrets

from kiunga.platform.models import WebhookRoute
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

TOKEN_BYTES = 24


def new_callback_token() -> str:
    """A path segment nobody can guess: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    # The token is random and long, so a plain digest is enough to keep it out of the
    # shared table; unlike a keyed hash it survives a rotation of KIUNGA_SECRET_KEY.
    return hashlib.sha256(token.encode()).hexdigest()


async def route_new_token(session: AsyncSession, tenant_id: int, provider: str) -> str:
    """A new token naming `tenant_id` on `provider`'s callbacks, in place of its old one
    (which stops with this transaction's commit). The route table is in the platform
    schema, written in the caller's (tenant) transaction. Returns the token."""
    token = new_callback_token()
    await session.execute(
        delete(WebhookRoute).where(
            WebhookRoute.tenant_id == tenant_id, WebhookRoute.provider == provider
        )
    )
    session.add(WebhookRoute(token_hash=token_hash(token), tenant_id=tenant_id, provider=provider))
    return token
