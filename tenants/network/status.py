"""Asking routers how they are: "test connection" from the console or the API, and the
periodic poll of api-mode routers.

A router is asked outside any database transaction (a router that does not answer must not
hold a connection or a row lock for its timeout); what it said, or why it did not answer,
is then recorded in a short transaction of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from kiunga.integrations.routeros.client import (
    RouterAuthFailed,
    RouterCertificateRefused,
    RouterConnection,
    RouterError,
    RouterOSClient,
    RouterOSGateway,
    RouterTrap,
    RouterUnreachable,
)
from kiunga.platform.db.engine import Database
from kiunga.tenants.network import reach, service
from kiunga.tenants.network.models import Router, RouterMode
from kiunga.tenants.network.validation import RouterError as RouterInputError
from sqlalchemy import select

log = structlog.get_logger("kiunga.network")

GatewayFactory = Callable[[RouterConnection], RouterOSGateway]
TEST_TIMEOUT_SECONDS = 8.0
POLL_TIMEOUT_SECONDS = 6.0
# 16 at a time, 6 s each at worst: about 60 s for 150 routers that do not answer, well
# inside the job's 170 s.
POLL_CONCURRENCY = 16
_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def routeros_gateway(connection: RouterConnection) -> RouterOSGateway:
    return RouterOSClient(connection)


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str
    router: Router


def uptime_seconds(text: str | None) -> int | None:
    """RouterOS's 1w2d3h4m5s (or 2d04:05:06 from older versions) in seconds."""
    text = (text or "").strip()
    if not text:
        return None
    clock = re.fullmatch(r"(?:(\d+)w)?(?:(\d+)d)?(\d+):(\d\d):(\d\d)", text)
    if clock:
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def connection_for(router: Router, *, timeout: float) -> RouterConnection:
    """How to log in to the router, at the address as typed (see `aimed`)."""
    password = service.api_password(router)
    if not router.api_username or password is None:
        raise RouterInputError(
            "api_username", "set the router's API username and password to connect to it"
        )
    return RouterConnection(
        host=router.address,
        username=router.api_username,
        password=password,
        port=router.api_port,
        tls=router.use_tls,
        # Routers serve api-ssl with a certificate of their own making, which no CA vouches
        # for: it is pinned on first use instead, and checked before the login is sent.
        verify_tls=False,
        tls_fingerprint=router.tls_fingerprint,
        timeout=timeout,
    )


async def aimed(connection: RouterConnection) -> RouterConnection:
    """The connection sent to the checked address the router's host resolves to (see
    `reach`): RouterInputError when that address is refused, RouterUnreachable when the
    name resolves to nothing."""
    try:
        host = await reach.checked_address(connection.host)
    except reach.AddressUnresolved:
        raise RouterUnreachable(connection.address, "host name not found") from None
    return dataclasses.replace(connection, host=host)


def describe(error: RouterError, address: str | None = None) -> str:
    """What went wrong, in words for the person who set the router up. A router that does
    not answer is told in the same words however the connection failed (refused, timed
    out, dropped, something else answering): the words must not map another network."""
    where = address or error.router
    if isinstance(error, RouterAuthFailed):
        return f"Wrong credentials: {where} refused the API username or password"
    if isinstance(error, RouterCertificateRefused):
        return (
            f"Refused: {where} presented a TLS certificate (SHA-256 {error.presented or 'none'}) "
            "other than the one pinned for this router; nothing was sent to it. If its "
            "certificate was replaced on purpose, trust the new one on the router's page"
        )
    if isinstance(error, RouterTrap):
        return f"The router refused the command: {error.message}"
    return f"Unreachable: no RouterOS API answered at {where}"


async def ask(gateway: RouterOSGateway):
    try:
        return await gateway.status()
    finally:
        await gateway.close()


async def check_router(
    database: Database,
    schema: str,
    router_id: int,
    *,
    gateway_factory: GatewayFactory = routeros_gateway,
    timeout_seconds: float = TEST_TIMEOUT_SECONDS,
) -> CheckResult:
    """Log in to the router, read its identity and resources, and record them (or why it
    could not be done). RouterNotFound for an unknown id, RouterInputError when the router
    has no API credentials to try or its address is one Kiunga may not connect to."""
    async with database.tenant_session(schema) as session:
        router = await service.get_router(session, router_id)
        connection = connection_for(router, timeout=timeout_seconds)
    typed = f"{router.address}:{router.api_port}"
    try:
        gateway = gateway_factory(await aimed(connection))
        reported = await ask(gateway)
    except RouterError as error:
        message = describe(error, typed)
        log.info("router check failed", router_id=router_id, error=type(error).__name__)
        async with database.tenant_session(schema) as session, session.begin():
            if isinstance(error, RouterCertificateRefused):
                await service.record_certificate_refused(session, router_id, error.presented)
            router = await service.record_error(session, router_id, message)
        return CheckResult(False, message, router)
    status = service.RouterStatus(
        identity=reported.identity,
        version=reported.version,
        uptime_seconds=uptime_seconds(reported.uptime),
        cpu_load=reported.cpu_load,
        free_memory=reported.free_memory,
        total_memory=reported.total_memory,
    )
    async with database.tenant_session(schema) as session, session.begin():
        if connection.tls:
            seen = getattr(gateway, "certificate_fingerprint", None)
            await service.pin_certificate(session, router_id, seen)
        router = await service.record_status(session, router_id, status)
    version = f"RouterOS {reported.version}" if reported.version else "RouterOS"
    return CheckResult(True, f"Connected to {reported.identity or router.name} ({version})", router)


async def poll_routers(
    database: Database,
    schema: str,
    *,
    gateway_factory: GatewayFactory = routeros_gateway,
    concurrency: int = POLL_CONCURRENCY,
) -> dict[str, int]:
    """Check every api-mode router of one ISP, a few at a time; returns how many answered."""
    async with database.tenant_session(schema) as session:
        router_ids = list(
            await session.scalars(
                select(Router.id)
                .where(
                    Router.mode == RouterMode.API,
                    Router.api_username.is_not(None),
                    Router.api_password_encrypted.is_not(None),
                )
                .order_by(Router.id)
            )
        )
    limit = asyncio.Semaphore(concurrency)

    async def one(router_id: int) -> bool | None:
        async with limit:
            try:
                result = await check_router(
                    database,
                    schema,
                    router_id,
                    gateway_factory=gateway_factory,
                    timeout_seconds=POLL_TIMEOUT_SECONDS,
                )
            except (service.RouterNotFound, RouterInputError):
                return None  # removed or changed since the list was read
            return result.ok

    outcomes = await asyncio.gather(*(one(router_id) for router_id in router_ids))
    return {
        "answered": sum(1 for outcome in outcomes if outcome is True),
        "unreachable": sum(1 for outcome in outcomes if outcome is False),
    }
