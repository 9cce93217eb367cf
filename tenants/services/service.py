"""Creating and finding services; their lifecycle is in lifecycle.py."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.auth.fence import Fence
from kiunga.tenants.actors import Actor
from kiunga.tenants.services.credentials import MAX_PASSWORD_LENGTH, encrypt_password
from kiunga.tenants.services.errors import ServiceConflict, ServiceError
from kiunga.tenants.services.lifecycle import activate_service, usable_package
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.fence import confine_by_subscriber
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
MAC = re.compile(r"^([0-9A-F]{2}[:-]?){5}[0-9A-F]{2}$")
PAGE_LIMIT = 200


@dataclass(frozen=True, slots=True)
class NewService:
    subscriber_id: int
    package_id: int
    username: str | None = None
    password: str | None = None
    mac_address: str | None = None
    static_ip: str | None = None
    auto_renew: bool = True


def clean_username(username: str | None) -> str | None:
    if username is None or not username.strip():
        return None
    username = username.strip()
    if not USERNAME.match(username):
        raise ServiceError(
            "username", "username must be 2-64 letters, digits, or . _ @ - (no spaces)"
        )
    return username


def clean_mac(mac: str | None) -> str | None:
    if mac is None or not mac.strip():
        return None
    mac = mac.strip().upper()
    if not MAC.match(mac):
        raise ServiceError("mac_address", "mac_address must look like AA:BB:CC:DD:EE:FF")
    digits = re.sub(r"[^0-9A-F]", "", mac)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def router_mac(raw: object) -> str | None:
    """A MAC address as a router sent it (hotspot `$(mac)`), normalised like clean_mac, or
    None when there is none or it is not one: a router's word is not input to refuse."""
    if not isinstance(raw, str):
        return None
    try:
        return clean_mac(raw)
    except ServiceError:
        return None


def clean_ip(address: str | None) -> str | None:
    if address is None or not address.strip():
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError as exc:
        raise ServiceError("static_ip", "static_ip is not an IP address") from exc


async def _clash(session: AsyncSession, column, value, except_id: int | None = None) -> bool:
    query = select(Service.id).where(column == value, Service.status != ServiceStatus.TERMINATED)
    if except_id is not None:
        query = query.where(Service.id != except_id)
    return await session.scalar(query.limit(1)) is not None


async def create_service(
    session: AsyncSession,
    data: NewService,
    *,
    actor: Actor,
    activate: bool = True,
    allow_unpaid: bool = False,
    now: datetime | None = None,
) -> Service:
    """A new service for a subscriber, activated (and billed) at once unless `activate` is
    False; see lifecycle.activate_service for what happens when credit is short."""
    subscriber = await session.get(Subscriber, data.subscriber_id)
    if subscriber is None:
        raise ServiceError("subscriber_id", f"no subscriber with id {data.subscriber_id}")
    if subscriber.status is SubscriberStatus.TERMINATED:
        raise ServiceError("subscriber_id", "the subscriber's account is terminated")
    package = await usable_package(session, data.package_id)
    username, mac, ip = (
        clean_username(data.username),
        clean_mac(data.mac_address),
        clean_ip(data.static_ip),
    )
    if data.password is not None and not 1 <= len(data.password) <= MAX_PASSWORD_LENGTH:
        raise ServiceError("password", f"password must be 1-{MAX_PASSWORD_LENGTH} characters")
    if username and await _clash(session, func.lower(Service.username), username.lower()):
        raise ServiceConflict("username", f"username {username!r} is already in use")
    if ip and await _clash(session, Service.static_ip, ip):
        raise ServiceConflict("static_ip", f"address {ip} is already in use")
    service = Service(
        subscriber_id=subscriber.id,
        package_id=package.id,
        service_type=package.service_type,
        username=username,
        password_encrypted=encrypt_password(data.password) if data.password else None,
        mac_address=mac,
        static_ip=ip,
        status=ServiceStatus.PENDING,
        auto_renew=data.auto_renew,
    )
    session.add(service)
    try:
        # A savepoint: losing a race on a unique username or address leaves the caller's
        # transaction usable and answers 409, not a failed transaction.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if service in session:
            session.expunge(service)
        field = "static_ip" if "static_ip" in str(exc.orig) else "username"
        raise ServiceConflict(field, f"{field} is already in use") from exc
    if activate:
        await activate_service(session, service.id, actor=actor, now=now, allow_unpaid=allow_unpaid)
    return service


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    subscriber_id: int | None = None
    status: ServiceStatus | None = None
    package_id: int | None = None
    username: str | None = None
    # A reseller's key: only the services of subscribers that reseller owns.
    reseller_id: int | None = None


async def list_services(
    session: AsyncSession, where: ServiceFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[Service], int]:
    query = select(Service)
    if where.subscriber_id is not None:
        query = query.where(Service.subscriber_id == where.subscriber_id)
    if where.status is not None:
        query = query.where(Service.status == where.status)
    if where.package_id is not None:
        query = query.where(Service.package_id == where.package_id)
    if where.username:
        query = query.where(func.lower(Service.username) == where.username.strip().lower())
    query = confine_by_subscriber(Fence(where.reseller_id), query, Service.subscriber_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    limit = max(1, min(limit, PAGE_LIMIT))
    rows = await session.scalars(query.order_by(Service.id).limit(limit).offset(max(0, offset)))
    return list(rows), int(total or 0)


async def count_active_services(session: AsyncSession) -> int:
    query = select(func.count()).where(Service.status == ServiceStatus.ACTIVE)
    return await session.scalar(query) or 0
