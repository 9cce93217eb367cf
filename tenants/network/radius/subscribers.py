"""A service as the RADIUS server sees it, read from a tenant's schema, and the decision
for an Access-Request made from it (no database involved).

Rules, in order: a pending, suspended or expired service is refused with the reason; an
active prepaid service whose period ended more than `EXPIRY_GRACE` ago is refused as
expired (the lifecycle runs every five minutes, so a service it is about to renew is not
cut off meanwhile; one that never renews, such as a voucher's, is refused at its end);
a package's data cap used up cuts the service off unless the package has a fair-usage
rate, which it then gets. A redeemed voucher not logged in yet gets its whole validity as
Session-Timeout: it starts with this login. Every refusal carries the password, so only
someone who knows it learns why (the server answers "Wrong password" otherwise).

A hotspot login also answers to the device asking (`admit_device`, after `decide`): a
service bound to a MAC address (a voucher whose batch binds) admits only that
Calling-Station-Id, and a hotspot package's `shared_users` caps the devices logged in at
once, counted from the open accounting sessions the cache holds. A session not heard from
for `stale_seconds` (twice the interim interval) no longer counts: its router lost it.
The same device logging in again is not another device.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kiunga.integrations.radius.interfaces import Authorization, Rejection, RejectReason
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType
from kiunga.tenants.catalog.periods import add_validity
from kiunga.tenants.network.radius.models import RadiusSession, UsagePeriod
from kiunga.tenants.services.credentials import decrypt_password
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.vouchers.models import Voucher, VoucherStatus
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

EXPIRY_GRACE = 600  # seconds: two lifecycle runs
NOT_ACTIVATED = "Service not activated yet"
NO_PASSWORD = "No password set for this service"
OTHER_DEVICE = "This login is bound to another device"
DEVICES_IN_USE = "This login is already in use on another device"
YIELD_EVERY = 500


@dataclass(frozen=True, slots=True)
class Subscriber:
    service_id: int
    subscriber_id: int
    username: str
    password: bytes | None = field(repr=False)
    status: str
    prepaid: bool
    expires_at: float | None  # epoch seconds
    rate_limit: str | None
    fup_rate_limit: str | None
    cap_bytes: int | None
    used_bytes: int
    static_ip: str | None
    password_token: str | None = field(default=None, repr=False, compare=False)
    # The billed period `used_bytes` counts (epoch seconds), so that usage news of another
    # period is not taken for this one's.
    period_start: float | None = None
    # The only device admitted (upper case, colon-separated), when a hotspot login is bound.
    mac_address: str | None = None
    # False: the period is never renewed (a voucher), so no grace after it ends.
    renews: bool = True
    # Hotspot logins: how many devices at once (the package's shared_users); None: no cap.
    shared_users: int | None = None
    # Open accounting sessions: (device MAC or None, last heard, epoch seconds).
    sessions: tuple[tuple[str | None, float], ...] = field(default=(), compare=False)
    # A redeemed voucher whose validity starts at its first accepted login: the package's
    # validity (count, unit), all of which the first login gets.
    first_login_validity: tuple[int, str] | None = None

    @property
    def cap_reached(self) -> bool:
        return self.cap_bytes is not None and self.used_bytes >= self.cap_bytes


def decide(
    subscriber: Subscriber, now: float, *, interim_interval: int | None = None
) -> Authorization | Rejection:
    password = subscriber.password
    if password is None:
        return Rejection(RejectReason.NOT_ALLOWED, NO_PASSWORD)
    status = subscriber.status
    if status == ServiceStatus.SUSPENDED:
        return Rejection(RejectReason.SUSPENDED, password=password)
    if status == ServiceStatus.EXPIRED:
        return Rejection(RejectReason.EXPIRED, password=password)
    if status != ServiceStatus.ACTIVE:
        return Rejection(RejectReason.NOT_ALLOWED, NOT_ACTIVATED, password=password)
    session_timeout = None
    if subscriber.prepaid and subscriber.expires_at is not None:
        left = subscriber.expires_at - now
        if left <= -EXPIRY_GRACE or (left <= 0 and not subscriber.renews):
            return Rejection(RejectReason.EXPIRED, password=password)
        session_timeout = math.ceil(left if left > 0 else left + EXPIRY_GRACE)
        if subscriber.first_login_validity is not None:
            # Its validity starts with this login (vouchers.first_login): all of it is left.
            session_timeout = _whole_validity(subscriber.first_login_validity, now)
    rate_limit = subscriber.rate_limit
    total_limit = None
    if subscriber.cap_bytes is not None:
        if subscriber.cap_reached:
            if subscriber.fup_rate_limit is None:
                return Rejection(RejectReason.DATA_USED_UP, password=password)
            rate_limit = subscriber.fup_rate_limit
        elif subscriber.fup_rate_limit is None:
            # The router cuts the session itself when the bundle runs out.
            total_limit = subscriber.cap_bytes - subscriber.used_bytes
    return Authorization(
        password=password,
        rate_limit=rate_limit or None,
        session_timeout=session_timeout,
        total_limit_bytes=total_limit,
        framed_ip=subscriber.static_ip,
        acct_interim_interval=interim_interval,
    )


def _whole_validity(validity: tuple[int, str], now: float) -> int:
    start = datetime.fromtimestamp(now, UTC)
    return math.ceil((add_validity(start, *validity) - start).total_seconds())


@functools.lru_cache(maxsize=65536)
def device_mac(calling_station_id: str | None) -> str | None:
    """A Calling-Station-Id as a MAC address (MikroTik sends "AA:BB:CC:DD:EE:FF"; others
    use dashes, dots or none): upper case and colon-separated, or None."""
    if not calling_station_id:
        return None
    digits = "".join(c for c in calling_station_id.upper() if c in "0123456789ABCDEF")
    if len(digits) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def admit_device(
    subscriber: Subscriber,
    calling_station_id: str | None,
    now: float,
    *,
    stale_seconds: float,
    password: bytes,
) -> Rejection | None:
    """The device rules of the module notes, for a login `decide` accepted; None admits."""
    device = device_mac(calling_station_id)
    bound = subscriber.mac_address
    if bound is not None and device != bound:
        return Rejection(RejectReason.NOT_ALLOWED, OTHER_DEVICE, password=password)
    limit = subscriber.shared_users
    if limit is None or len(subscriber.sessions) < limit:
        return None
    heard_since = now - stale_seconds
    others = sum(
        1
        for session_device, heard in subscriber.sessions
        if heard >= heard_since and (device is None or session_device != device)
    )
    if others >= limit:
        return Rejection(RejectReason.NOT_ALLOWED, DEVICES_IN_USE, password=password)
    return None


def _query(service_ids: Iterable[int] | None):
    used = (UsagePeriod.input_octets + UsagePeriod.output_octets).label("used")
    query = (
        select(
            Service.id,
            Service.subscriber_id,
            Service.username,
            Service.password_encrypted,
            Service.status,
            Service.expires_at,
            Service.period_start,
            Service.static_ip,
            Service.service_type,
            Service.mac_address,
            Service.auto_renew,
            Package.billing_type,
            Package.shared_users,
            Package.rate_limit,
            Package.fup_rate_limit,
            Package.data_cap_bytes,
            Package.validity_count,
            Package.validity_unit,
            Voucher.id.label("voucher_waiting"),
            used,
        )
        .join(Package, Package.id == Service.package_id)
        .outerjoin(
            Voucher,
            and_(
                Voucher.service_id == Service.id,
                Voucher.status == VoucherStatus.ACTIVE,
                Voucher.first_login_at.is_(None),
            ),
        )
        .outerjoin(
            UsagePeriod,
            and_(
                UsagePeriod.service_id == Service.id,
                UsagePeriod.period_start == Service.period_start,
            ),
        )
        .where(Service.username.is_not(None), Service.status != ServiceStatus.TERMINATED)
    )
    if service_ids is not None:
        query = query.where(Service.id.in_(list(service_ids)))
    return query


def _password(token: str | None) -> bytes | None:
    if not token:
        return None
    try:
        return decrypt_password(token).encode()
    except ValueError:
        return None  # stored under another secret key: refused until set again


async def load_subscribers(
    session: AsyncSession,
    service_ids: Iterable[int] | None = None,
    *,
    passwords: dict[str, bytes | None] | None = None,
) -> list[Subscriber]:
    """Every service with a login that is not terminated (or only those of `service_ids`).

    Decrypting is most of the cost of a load, and it runs in the RADIUS server's event loop:
    `passwords` (encrypted token → clear text) carries what earlier loads decrypted, so a
    reload decrypts only passwords that changed, and the loop is let go every few hundred
    rows so Access-Requests keep being answered meanwhile.
    """
    if service_ids is not None:
        service_ids = list(service_ids)
    rows = (await session.execute(_query(service_ids))).all()
    hotspot_ids = [row.id for row in rows if row.service_type == ServiceType.HOTSPOT]
    sessions = {}
    if hotspot_ids:
        sessions = await open_sessions(session, None if service_ids is None else hotspot_ids)
    known = passwords if passwords is not None else {}
    found = []
    for number, row in enumerate(rows, 1):
        token = row.password_encrypted
        hotspot = row.service_type == ServiceType.HOTSPOT
        if token and token not in known:
            known[token] = _password(token)
        found.append(
            Subscriber(
                service_id=row.id,
                subscriber_id=row.subscriber_id,
                username=row.username,
                password=known[token] if token else None,
                status=str(row.status),
                prepaid=row.billing_type == BillingType.PREPAID,
                expires_at=_epoch(row.expires_at),
                rate_limit=row.rate_limit,
                fup_rate_limit=row.fup_rate_limit,
                cap_bytes=row.data_cap_bytes,
                used_bytes=row.used or 0,
                static_ip=_ipv4(row.static_ip),
                password_token=token,
                period_start=_epoch(row.period_start),
                mac_address=row.mac_address if hotspot else None,
                renews=row.auto_renew,
                shared_users=row.shared_users if hotspot else None,
                sessions=sessions.get(row.id, ()) if hotspot else (),
                first_login_validity=(
                    (row.validity_count, str(row.validity_unit))
                    if row.voucher_waiting is not None
                    else None
                ),
            )
        )
        if number % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return found


async def open_sessions(
    session: AsyncSession, service_ids: Iterable[int] | None
) -> dict[int, tuple[tuple[str | None, float], ...]]:
    """The open accounting sessions of hotspot services (only they are capped), by service:
    read from the partial index of open sessions."""
    query = (
        select(RadiusSession.service_id, RadiusSession.calling_station_id, RadiusSession.updated_at)
        .join(Service, Service.id == RadiusSession.service_id)
        .where(
            RadiusSession.stopped_at.is_(None),
            Service.service_type == ServiceType.HOTSPOT,
            Service.status != ServiceStatus.TERMINATED,
        )
    )
    if service_ids is not None:
        query = query.where(RadiusSession.service_id.in_(list(service_ids)))
    found: dict[int, list[tuple[str | None, float]]] = {}
    for service_id, station, updated_at in await session.execute(query):
        found.setdefault(service_id, []).append((device_mac(station), updated_at.timestamp()))
    return {service_id: tuple(items) for service_id, items in found.items()}


def _ipv4(address) -> str | None:
    # Framed-IP-Address is IPv4; an IPv6 static address is the router's to assign.
    if address is None:
        return None
    address = str(address)
    return address if ipaddress.ip_address(address).version == 4 else None


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


async def load_recent_login(
    session: AsyncSession,
    name: str,
    *,
    within_seconds: float,
    passwords: dict[str, bytes | None] | None = None,
) -> Subscriber | None:
    """The live service whose login is `name` (lower case), if it was created within the
    last `within_seconds`: one probe of the index on lower(username)."""
    service_id = await session.scalar(
        select(Service.id).where(
            func.lower(Service.username) == name,
            Service.status != ServiceStatus.TERMINATED,
            Service.created_at >= func.now() - timedelta(seconds=within_seconds),
        )
    )
    if service_id is None:
        return None
    found = await load_subscribers(session, [service_id], passwords=passwords)
    return found[0] if found else None
