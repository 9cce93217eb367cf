"""CoA- and Disconnect-Requests (RFC 5176) to the routers a service's sessions are on.

A session is found by its open `radius_sessions` row; the request goes to the router's
address and CoA port, signed with the router's shared secret, and names the session by
User-Name, Acct-Session-Id and Framed-IP-Address. Each exchange retransmits
(`DynAuthPolicy.retransmits` packets, `retry_after` apart); a NAK or no answer is tried again
after `backoff`, twice that, … for `rounds` exchanges in all, except a NAK saying the router
has no such session (Error-Cause 503), after which the session is closed here too (as it is
after an acknowledged Disconnect). Every exchange is recorded in `dynauth_attempts`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from kiunga.integrations.radius.dynauth import (
    DynAuthOutcome,
    DynAuthResult,
    send_coa,
    send_disconnect,
)
from kiunga.platform.db.base import utcnow
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.network.models import Router
from kiunga.tenants.network.radius.models import DynAuthAttempt, RadiusSession, UsagePeriod
from kiunga.tenants.network.radius.subscribers import device_mac
from kiunga.tenants.network.service import radius_secret
from kiunga.tenants.services.models import Service
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

SESSION_NOT_FOUND = 503


@dataclass(frozen=True)
class DynAuthPolicy:
    rounds: int = 3
    backoff: float = 2.0
    retransmits: int = 3
    retry_after: float = 1.0


DEFAULT_POLICY = DynAuthPolicy()


async def open_sessions(session: AsyncSession, service_id: int) -> list[RadiusSession]:
    return list(
        await session.scalars(
            select(RadiusSession)
            .where(RadiusSession.service_id == service_id, RadiusSession.stopped_at.is_(None))
            .order_by(RadiusSession.id)
        )
    )


async def disconnect_service(
    session: AsyncSession,
    service_id: int,
    *,
    reason: str,
    policy: DynAuthPolicy = DEFAULT_POLICY,
) -> list[DynAuthAttempt]:
    """End every open session of the service on its router."""
    return await _each_session(session, service_id, "disconnect", reason, [], policy)


async def disconnect_device(
    session: AsyncSession,
    service_id: int,
    mac: str,
    *,
    reason: str,
    policy: DynAuthPolicy = DEFAULT_POLICY,
) -> list[DynAuthAttempt]:
    """End the service's open sessions from one device (its Calling-Station-Id, as
    AA:BB:CC:DD:EE:FF), leaving the login's other devices online."""
    attempts = []
    for radius_session in await open_sessions(session, service_id):
        if device_mac(radius_session.calling_station_id) == mac:
            attempts.extend(
                await _send(session, radius_session, "disconnect", reason, [], policy, service_id)
            )
    return attempts


async def change_rate(
    session: AsyncSession,
    service_id: int,
    rate_limit: str,
    *,
    reason: str,
    session_timeout: int | None = None,
    policy: DynAuthPolicy = DEFAULT_POLICY,
) -> list[DynAuthAttempt]:
    """Give every open session of the service a new Mikrotik-Rate-Limit (and, when given,
    a new Session-Timeout: the seconds left from now)."""
    changes: list[tuple[str, object]] = [("Mikrotik-Rate-Limit", rate_limit)]
    if session_timeout is not None:
        changes.append(("Session-Timeout", session_timeout))
    return await _each_session(session, service_id, "coa", reason, changes, policy)


async def current_rate(session: AsyncSession, service_id: int) -> str | None:
    """The rate the service should have now: its package's, or the fair-usage rate once the
    current period's usage has reached the cap."""
    row = (
        await session.execute(
            select(
                Package.rate_limit,
                Package.fup_rate_limit,
                Package.data_cap_bytes,
                UsagePeriod.cap_reached_at,
            )
            .select_from(Service)
            .join(Package, Package.id == Service.package_id)
            .outerjoin(
                UsagePeriod,
                (UsagePeriod.service_id == Service.id)
                & (UsagePeriod.period_start == Service.period_start),
            )
            .where(Service.id == service_id)
        )
    ).first()
    if row is None:
        return None
    if row.data_cap_bytes is not None and row.cap_reached_at is not None and row.fup_rate_limit:
        return row.fup_rate_limit
    return row.rate_limit


async def _each_session(session, service_id, kind, reason, changes, policy):
    attempts = []
    for radius_session in await open_sessions(session, service_id):
        attempts.extend(
            await _send(session, radius_session, kind, reason, changes, policy, service_id)
        )
    return attempts


def _attributes(radius_session: RadiusSession, changes: list) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [("Acct-Session-Id", radius_session.acct_session_id)]
    if radius_session.username:
        pairs.insert(0, ("User-Name", radius_session.username))
    if radius_session.framed_ip:
        pairs.append(("Framed-IP-Address", radius_session.framed_ip))
    return pairs + changes


async def _send(session, radius_session, kind, reason, changes, policy, service_id):
    router = (
        await session.get(Router, radius_session.router_id)
        if radius_session.router_id is not None
        else None
    )
    secret = radius_secret(router) if router is not None else None
    if router is None or not secret:
        return [await _record(session, radius_session, router, kind, reason, "no_secret", None)]
    send = send_disconnect if kind == "disconnect" else send_coa
    attributes = _attributes(radius_session, changes)
    attempts = []
    delay = policy.backoff
    for round_number in range(1, policy.rounds + 1):
        result: DynAuthResult = await send(
            router.address,
            secret.encode(),
            attributes,
            port=router.coa_port,
            retry_after=policy.retry_after,
            attempts=policy.retransmits,
        )
        attempts.append(
            await _record(
                session,
                radius_session,
                router,
                kind,
                reason,
                result.outcome.value,
                result.error_cause,
                packets=result.attempts,
                service_id=service_id,
            )
        )
        if result.outcome is DynAuthOutcome.ACK:
            if kind == "disconnect":
                # Ended; the router's Stop, when it comes, still brings the final totals.
                radius_session.stopped_at = utcnow()
                radius_session.terminate_cause = "Admin-Reset"
            break
        if result.error_cause == SESSION_NOT_FOUND:
            # The router has no such session: it ended without a Stop reaching us.
            radius_session.stopped_at = utcnow()
            radius_session.terminate_cause = "Session-Not-Found"
            break
        if round_number < policy.rounds:
            await asyncio.sleep(delay)
            delay *= 2
    await session.flush()
    return attempts


async def _record(
    session,
    radius_session,
    router,
    kind,
    reason,
    outcome,
    error_cause,
    *,
    packets=0,
    service_id=None,
) -> DynAuthAttempt:
    attempt = DynAuthAttempt(
        service_id=service_id if service_id is not None else radius_session.service_id,
        session_id=radius_session.id,
        router_id=router.id if router is not None else None,
        kind=kind,
        reason=reason[:100],
        outcome=outcome,
        error_cause=error_cause,
        packets=packets,
    )
    session.add(attempt)
    await session.flush()
    return attempt


async def last_attempt(session: AsyncSession, service_id: int) -> DynAuthAttempt | None:
    """The latest CoA or Disconnect for the service (the console shows it)."""
    return await session.scalar(
        select(DynAuthAttempt)
        .where(DynAuthAttempt.service_id == service_id)
        .order_by(DynAuthAttempt.id.desc())
        .limit(1)
    )


async def last_attempts(session: AsyncSession, service_ids: list[int]) -> dict[int, DynAuthAttempt]:
    """The latest CoA or Disconnect of each of these services, by service id."""
    if not service_ids:
        return {}
    rows = await session.scalars(
        select(DynAuthAttempt)
        .where(DynAuthAttempt.service_id.in_(service_ids))
        .ext(distinct_on(DynAuthAttempt.service_id))
        .order_by(DynAuthAttempt.service_id, DynAuthAttempt.id.desc())
    )
    return {attempt.service_id: attempt for attempt in rows}
