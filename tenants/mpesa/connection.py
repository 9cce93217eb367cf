"""Talking to Daraja about the set-up itself: "test connection" (an OAuth token for the
consumer key and secret), registering the C2B URLs, and rotating the callback token (which
registers them again, since the old URLs stop working)."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from kiunga.integrations.mpesa.client import DarajaError
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.tenants.mpesa.config import (
    callback_token,
    callback_urls,
    credentials,
    rotate_callback_token,
    settings_row,
)
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.mpesa.gateway import GatewayFactory, daraja_gateway

log = structlog.get_logger("kiunga.mpesa")
NOT_CONNECTED = "Daraja did not accept the consumer key and secret, or could not be reached"


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str


async def test_connection(
    database: Database, schema: str, *, gateway_factory: GatewayFactory = daraja_gateway
) -> CheckResult:
    async with database.tenant_session(schema) as session:
        creds = credentials(await settings_row(session))
    try:
        await gateway_factory(creds).check_credentials()
    except DarajaError as error:
        # What answered is never echoed (it need not have been Daraja): only its code is
        # logged, for the operators.
        log.info("daraja test connection failed", code=error.code[:40])
        return CheckResult(False, NOT_CONNECTED)
    return CheckResult(True, f"Daraja at {creds.base_url} accepted the consumer key and secret")


async def register_c2b(
    database: Database, schema: str, *, gateway_factory: GatewayFactory = daraja_gateway
) -> CheckResult:
    """Register this ISP's validation and confirmation URLs for its shortcode; the outcome
    is kept on the settings for the console to show."""
    async with database.tenant_session(schema) as session:
        row = await settings_row(session)
        creds = credentials(row)
        token = callback_token(row)
    if token is None:
        raise MpesaError("settings", "M-Pesa has no callback address yet: rotate the token")
    urls = callback_urls(token)
    try:
        await gateway_factory(creds).register_c2b_urls(
            validation_url=urls.validation,
            confirmation_url=urls.confirmation,
            # If our validation cannot answer in time, the payment still goes through: a
            # payment that matches nobody waits in the unmatched queue instead of bouncing.
            response_type="Completed",
        )
        result = CheckResult(True, "C2B URLs registered")
    except DarajaError as error:
        log.warning("c2b url registration refused", code=error.code)
        result = CheckResult(False, f"Daraja refused the C2B URLs: {error.message}")
    async with database.tenant_session(schema) as session, session.begin():
        row = await settings_row(session, lock=True)
        row.c2b_registered_at = utcnow() if result.ok else None
        row.c2b_registration_error = None if result.ok else result.message[:2000]
    return result


async def rotate_and_register(
    database: Database,
    schema: str,
    tenant_id: int,
    *,
    gateway_factory: GatewayFactory = daraja_gateway,
) -> CheckResult:
    """A new callback token (the old URLs stop working), then the C2B URLs registered again
    with it; the token is rotated even if Daraja cannot be reached (the result says so)."""
    async with database.tenant_session(schema) as session, session.begin():
        await rotate_callback_token(session, tenant_id)
    try:
        return await register_c2b(database, schema, gateway_factory=gateway_factory)
    except MpesaError as error:
        return CheckResult(False, error.message)
