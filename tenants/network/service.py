"""Routers: add, change, remove, list, read, and record what a router said.

Every function takes the tenant session explicitly and only flushes: the caller's unit of
work commits. A router in radius mode also owns a row of platform.radius_clients, written
in the same transaction, so that the RADIUS server's directory and the tenant's routers
never disagree. Each change is checked as a whole before anything is written, and runs in
a savepoint: a refusal (bad field, name or address taken) leaves the caller's transaction
as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import NotFoundError
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.models import RadiusClientRoute
from kiunga.platform.radius_routes import RADIUS_CLIENTS_CHANNEL
from kiunga.tenants.network import secrets
from kiunga.tenants.network.models import (
    API_PORT,
    API_TLS_PORT,
    COA_PORT,
    Router,
    RouterMode,
)
from kiunga.tenants.network.validation import (
    MAX_PASSWORD_LENGTH,
    MAX_SECRET_LENGTH,
    RouterConflict,
    RouterError,
    clean_address,
    clean_mode,
    clean_name,
    clean_port,
    clean_secret,
    clean_source_address,
    clean_username,
    ip_or_none,
)
from kiunga.tenants.sites.models import Site
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "RouterConflict",
    "RouterError",
    "RouterNotFound",
    "RouterStatus",
    "create_router",
    "delete_router",
    "get_router",
    "list_routers",
    "pin_certificate",
    "record_certificate_refused",
    "record_error",
    "record_status",
    "radius_source_address",
    "trust_certificate",
    "update_router",
]

log = structlog.get_logger("kiunga.network")

MAX_ERROR_LENGTH = 2000
RADIUS_NOTIFY_CHANNEL = RADIUS_CLIENTS_CHANNEL
# The fields a caller may give; anything else is a programming error, not input.
FIELDS = frozenset(
    {
        "name", "site_id", "address", "api_port", "use_tls", "api_username", "api_password",
        "mode", "radius_secret", "radius_source_address", "coa_port",
        "require_message_authenticator",
    }
)  # fmt: skip


class RouterNotFound(NotFoundError):
    pass


@dataclass(frozen=True, slots=True)
class RouterStatus:
    """What a router reports about itself (from /system/identity and /system/resource)."""

    identity: str | None = None
    version: str | None = None
    uptime_seconds: int | None = None
    cpu_load: int | None = None
    free_memory: int | None = None
    total_memory: int | None = None


def radius_source_address(router: Router) -> str | None:
    """The address its RADIUS packets come from: as set, else its address if that is an IP."""
    return router.radius_source_address or ip_or_none(router.address)


def api_password(router: Router) -> str | None:
    """Decrypted, for the RouterOS client only."""
    token = router.api_password_encrypted
    return secrets.decrypt(token) if token else None


def radius_secret(router: Router) -> str | None:
    """Decrypted, for the RADIUS server only."""
    token = router.radius_secret_encrypted
    return secrets.decrypt(token) if token else None


async def list_routers(session: AsyncSession, *, site_id: int | None = None) -> list[Router]:
    query = select(Router).order_by(Router.name, Router.id)
    if site_id is not None:
        query = query.where(Router.site_id == site_id)
    return list(await session.scalars(query))


async def count_routers(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Router)) or 0


async def get_router(session: AsyncSession, router_id: int, *, lock: bool = False) -> Router:
    router = await session.get(Router, router_id, with_for_update=lock or None)
    if router is None:
        raise RouterNotFound(f"no router with id {router_id}")
    return router


async def create_router(session: AsyncSession, tenant_id: int, **fields: Any) -> Router:
    """A new router from `fields` (see FIELDS); mode defaults to api."""
    fields.setdefault("mode", RouterMode.API.value)
    router = Router(use_tls=False, coa_port=COA_PORT, require_message_authenticator=False)
    async with session.begin_nested():
        await _apply(session, router, fields, creating=True)
        session.add(router)
        await _flush(session, router)
        await _sync_radius_client(session, tenant_id, router)
        await emit(session, "router.changed", {"router_id": router.id, "change": "created"})
    await session.refresh(router)  # created_at comes from the database
    return router


async def update_router(
    session: AsyncSession, tenant_id: int, router_id: int, **changes: Any
) -> Router:
    """Change the given fields (see FIELDS); a secret left out (or None) is kept."""
    router = await get_router(session, router_id, lock=True)
    async with session.begin_nested():
        await _apply(session, router, changes, creating=False)
        router.updated_at = utcnow()
        await _flush(session, router)
        await _sync_radius_client(session, tenant_id, router)
        await emit(session, "router.changed", {"router_id": router.id, "change": "updated"})
    return router


async def delete_router(session: AsyncSession, tenant_id: int, router_id: int) -> None:
    router = await get_router(session, router_id, lock=True)
    async with session.begin_nested():
        removed = await session.execute(
            delete(RadiusClientRoute).where(
                RadiusClientRoute.tenant_id == tenant_id, RadiusClientRoute.router_id == router.id
            )
        )
        if removed.rowcount:
            await _notify_radius(session)
        await session.delete(router)
        await session.flush()
        await emit(session, "router.changed", {"router_id": router_id, "change": "deleted"})


async def record_status(
    session: AsyncSession, router_id: int, status: RouterStatus, *, at: datetime | None = None
) -> Router:
    """The router answered: keep what it said and when."""
    router = await get_router(session, router_id)
    router.last_seen_at = at or utcnow()
    router.identity = (status.identity or "")[:255] or None
    router.routeros_version = (status.version or "")[:64] or None
    router.uptime_seconds = status.uptime_seconds
    router.cpu_load = status.cpu_load
    router.free_memory = status.free_memory
    router.total_memory = status.total_memory
    await session.flush()
    return router


async def record_error(
    session: AsyncSession, router_id: int, message: str, *, at: datetime | None = None
) -> Router:
    """The router did not answer (or refused us): keep why, and when."""
    router = await get_router(session, router_id)
    router.last_error = message[:MAX_ERROR_LENGTH]
    router.last_error_at = at or utcnow()
    await session.flush()
    return router


async def pin_certificate(session: AsyncSession, router_id: int, fingerprint: str | None) -> None:
    """First use: the certificate the router presented over api-ssl becomes its pin. A pin
    already there is never replaced here (only by `trust_certificate`)."""
    router = await get_router(session, router_id, lock=True)
    if router.tls_fingerprint is not None or not fingerprint:
        return
    router.tls_fingerprint = fingerprint
    router.tls_pinned_at = utcnow()
    await session.flush()


async def record_certificate_refused(
    session: AsyncSession, router_id: int, presented: str
) -> Router:
    """The router presented another certificate than its pin: keep what it presented, for
    staff to compare with the router's own, and raise the alarm."""
    router = await get_router(session, router_id, lock=True)
    already_told = (
        router.tls_refused_fingerprint is not None
        and router.tls_refused_fingerprint == presented[:64]
    )
    router.tls_refused_fingerprint = presented[:64] or None
    router.tls_refused_at = utcnow()
    await session.flush()
    if already_told:  # the poll meets it every few minutes: one alarm per certificate
        return router
    await emit(
        session,
        "router.certificate_refused",
        {"router_id": router.id, "pinned": router.tls_fingerprint, "presented": presented},
    )
    log.warning(
        "router certificate refused",
        router_id=router.id,
        pinned=router.tls_fingerprint,
        presented=presented,
    )
    return router


async def trust_certificate(session: AsyncSession, router_id: int, fingerprint: str) -> Router:
    """Staff trust the certificate the router was last refused for: it becomes the pin.
    `fingerprint` is the one staff were shown, so a certificate that changed again since
    is not trusted unseen."""
    router = await get_router(session, router_id, lock=True)
    wanted = (fingerprint or "").strip().lower()
    if not router.tls_refused_fingerprint or wanted != router.tls_refused_fingerprint:
        raise RouterError(
            "tls_fingerprint",
            "that is not the certificate this router was last refused for: test the "
            "connection again and compare the fingerprint shown",
        )
    router.tls_fingerprint = router.tls_refused_fingerprint
    router.tls_pinned_at = utcnow()
    router.tls_refused_fingerprint = None
    router.tls_refused_at = None
    await session.flush()
    return router


async def _apply(
    session: AsyncSession, router: Router, given: dict[str, Any], *, creating: bool
) -> None:
    """Check every given field, then the router as a whole; only then change it."""
    unknown = set(given) - FIELDS
    if unknown:
        raise TypeError(f"not router fields: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if creating or "name" in given:
        values["name"] = clean_name(given.get("name"))
        await _check_name_free(session, values["name"], router.id)
    if creating or "address" in given:
        values["address"] = clean_address(given.get("address"))
    if "mode" in given:
        values["mode"] = clean_mode(given["mode"])
    if "use_tls" in given and given["use_tls"] is not None:
        values["use_tls"] = _flag(given["use_tls"], "use_tls")
    if given.get("api_port") not in (None, ""):
        values["api_port"] = clean_port(given["api_port"], "api_port")
    elif creating or values.get("use_tls", router.use_tls) != router.use_tls:
        # The port follows TLS unless it was set to something of one's own.
        default = API_TLS_PORT if values.get("use_tls", router.use_tls) else API_PORT
        if creating or router.api_port in (API_PORT, API_TLS_PORT):
            values["api_port"] = default
    if "api_username" in given:
        values["api_username"] = clean_username(given["api_username"])
    if given.get("api_password") is not None:
        password = clean_secret(given["api_password"], "api_password", MAX_PASSWORD_LENGTH)
        values["api_password_encrypted"] = secrets.encrypt(password)
    if given.get("radius_secret") is not None:
        secret = clean_secret(given["radius_secret"], "radius_secret", MAX_SECRET_LENGTH)
        values["radius_secret_encrypted"] = secrets.encrypt(secret)
    if "radius_source_address" in given:
        values["radius_source_address"] = clean_source_address(given["radius_source_address"])
    if given.get("coa_port") not in (None, ""):
        values["coa_port"] = clean_port(given["coa_port"], "coa_port")
    flag = given.get("require_message_authenticator")
    if flag is not None:
        values["require_message_authenticator"] = _flag(flag, "require_message_authenticator")
    if "site_id" in given:
        values["site_id"] = await _site_id(session, given["site_id"])

    merged = _Merged(router, values)
    if merged.mode is RouterMode.API:
        if not merged.api_username:
            raise RouterError("api_username", "a router in api mode needs an API username")
        if not merged.api_password_encrypted:
            raise RouterError("api_password", "a router in api mode needs an API password")
    if merged.mode is RouterMode.RADIUS:
        if not merged.radius_secret_encrypted:
            raise RouterError("radius_secret", "a router in radius mode needs a shared secret")
        if not (merged.radius_source_address or ip_or_none(merged.address)):
            raise RouterError(
                "radius_source_address",
                "the address is a host name: give the IP address its RADIUS packets come from",
            )
    if merged.api_password_encrypted and not merged.api_username:
        raise RouterError("api_username", "an API password needs its username")
    for column, value in values.items():
        setattr(router, column, value)


class _Merged:
    """The router as it would be after the change, for checks across fields."""

    def __init__(self, router: Router, changes: dict[str, Any]):
        self._router, self._changes = router, changes

    def __getattr__(self, name: str) -> Any:
        if name in self._changes:
            return self._changes[name]
        return getattr(self._router, name)


def _flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise RouterError(field, f"{field} must be true or false")


async def _site_id(session: AsyncSession, value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        site_id = int(str(value))
    except ValueError:
        raise RouterError("site_id", "site_id must be a site's id") from None
    if await session.get(Site, site_id) is None:
        raise RouterError("site_id", f"no site with id {site_id}")
    return site_id


async def _check_name_free(session: AsyncSession, name: str, router_id: int | None) -> None:
    query = select(Router.id).where(func.lower(Router.name) == name.lower())
    if router_id is not None:
        query = query.where(Router.id != router_id)
    if await session.scalar(query) is not None:
        raise RouterConflict("name", f"a router named {name!r} already exists")


async def _flush(session: AsyncSession, router: Router) -> None:
    # Losing a race on the unique name is a clear 409, not a failed transaction.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise RouterConflict("name", f"a router named {router.name!r} already exists") from exc


async def _sync_radius_client(session: AsyncSession, tenant_id: int, router: Router) -> None:
    """Make platform.radius_clients say what the router says: one row while it is in radius
    mode, at its source address; none otherwise."""
    wanted = radius_source_address(router) if router.mode is RouterMode.RADIUS else None
    mine = (RadiusClientRoute.tenant_id == tenant_id) & (RadiusClientRoute.router_id == router.id)
    current = await session.scalar(select(RadiusClientRoute.source_address).where(mine))
    if current is not None or wanted is not None:
        # The secret or the Message-Authenticator policy may have changed with the route.
        await _notify_radius(session)
    if current == wanted:
        return
    if wanted is not None:
        holder = await session.execute(
            select(RadiusClientRoute.tenant_id, RadiusClientRoute.router_id).where(
                RadiusClientRoute.source_address == wanted
            )
        )
        if holder.first() is not None:
            raise _address_taken(wanted)
    await session.execute(delete(RadiusClientRoute).where(mine))
    if wanted is None:
        return
    try:
        async with session.begin_nested():
            await session.execute(
                insert(RadiusClientRoute).values(
                    source_address=wanted, tenant_id=tenant_id, router_id=router.id
                )
            )
    except IntegrityError as exc:  # another router took it since we looked
        raise _address_taken(wanted) from exc


async def _notify_radius(session: AsyncSession) -> None:
    await session.execute(
        text("SELECT pg_notify(:channel, '')"), {"channel": RADIUS_NOTIFY_CHANNEL}
    )


def _address_taken(address: str) -> RouterConflict:
    # Another ISP's router may hold it: say so, but never whose it is.
    return RouterConflict(
        "radius_source_address",
        f"{address} is already the RADIUS address of another router; each router must "
        "send RADIUS from an address of its own (if this address is yours, the platform's "
        "operators can release it)",
    )
