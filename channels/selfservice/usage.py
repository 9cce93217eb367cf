"""Usage this period (RADIUS accounting, per billed period as the data cap counts it) and
the devices on the subscriber's hotspot logins: the device a voucher is bound to (its MAC)
and the devices with a session on the login now.

Removing a device frees the login from it: a binding is lifted (the next device may log
in), the RADIUS caches are told to read the service again, and a `selfcare.device_removed`
event has the worker disconnect that device's open sessions at the router (self-care's
handler), so it no longer holds one of the login's places."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiunga.channels.selfservice.errors import NotYours, SelfServiceError, record_id
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.network.radius.accounting import notify_services
from kiunga.tenants.network.radius.models import RadiusSession, UsagePeriod
from kiunga.tenants.network.radius.subscribers import device_mac
from kiunga.tenants.services.errors import ServiceError
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.services.service import clean_mac
from kiunga.tenants.vouchers.models import Voucher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

LIVE = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED)
# Handled by self-care's worker job (channels/selfcare/jobs.py).
DEVICE_REMOVED = "selfcare.device_removed"


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    service_id: int
    package_name: str
    package_name_sw: str
    status: str
    period_start: datetime | None
    expires_at: datetime | None
    upload_bytes: int  # from the subscriber (RADIUS input octets)
    download_bytes: int  # to the subscriber (output octets)
    data_cap_bytes: int | None
    cap_reached_at: datetime | None

    @property
    def total_bytes(self) -> int:
        return self.upload_bytes + self.download_bytes


@dataclass(frozen=True, slots=True)
class Usage:
    services: list[ServiceUsage]

    @property
    def total_bytes(self) -> int:
        return sum(service.total_bytes for service in self.services)


async def usage_this_period(session: AsyncSession, subscriber_id: int) -> Usage:
    """Octets of each live (or lapsed) service in its current billed period."""
    rows = await session.execute(
        select(
            Service.id,
            Package.name,
            Package.name_sw,
            Service.status,
            Service.period_start,
            Service.expires_at,
            UsagePeriod.input_octets,
            UsagePeriod.output_octets,
            Package.data_cap_bytes,
            UsagePeriod.cap_reached_at,
        )
        .join(Package, Package.id == Service.package_id)
        .outerjoin(
            UsagePeriod,
            (UsagePeriod.service_id == Service.id)
            & (UsagePeriod.period_start == Service.period_start),
        )
        .where(
            Service.subscriber_id == subscriber_id,
            Service.status.in_((*LIVE, ServiceStatus.EXPIRED)),
        )
        .order_by(Service.id)
    )
    return Usage(
        [
            ServiceUsage(
                sid,
                name,
                name_sw or name,
                status.value,
                start,
                expires,
                int(upload or 0),
                int(download or 0),
                cap,
                reached,
            )
            for sid, name, name_sw, status, start, expires, upload, download, cap, reached in rows
        ]
    )


@dataclass(frozen=True, slots=True)
class Device:
    service_id: int
    mac: str  # AA:BB:CC:DD:EE:FF
    package_name: str
    bound: bool  # the login admits only this device
    online: bool  # a session is open on it now
    last_seen: datetime | None


async def devices(session: AsyncSession, subscriber_id: int) -> list[Device]:
    """The devices on the subscriber's hotspot logins that are not over: bound ones and
    those with an open session."""
    services = (
        await session.execute(
            select(Service.id, Service.mac_address, Package.name)
            .join(Package, Package.id == Service.package_id)
            .where(
                Service.subscriber_id == subscriber_id,
                Service.service_type == ServiceType.HOTSPOT,
                Service.status.in_(LIVE),
            )
            .order_by(Service.id)
        )
    ).all()
    found: dict[tuple[int, str], Device] = {}
    names = {sid: name for sid, _, name in services}
    for sid, mac, name in services:
        if mac:
            found[(sid, mac)] = Device(sid, mac, name, True, False, None)
    if names:
        sessions = await session.execute(
            select(
                RadiusSession.service_id, RadiusSession.calling_station_id, RadiusSession.updated_at
            )
            .where(RadiusSession.service_id.in_(list(names)), RadiusSession.stopped_at.is_(None))
            .order_by(RadiusSession.updated_at)
        )
        for sid, station, seen in sessions:
            mac = device_mac(station)
            if mac is None:
                continue
            bound = (sid, mac) in found and found[(sid, mac)].bound
            found[(sid, mac)] = Device(sid, mac, names[sid], bound, True, seen)
    return sorted(found.values(), key=lambda d: (d.service_id, d.mac))


def _mac(raw: object) -> str:
    try:
        mac = clean_mac(raw if isinstance(raw, str) else None)
    except ServiceError:
        mac = None
    if mac is None:
        raise SelfServiceError("mac", "choose one of your devices")
    return mac


async def remove_device(
    session: AsyncSession, *, subscriber_id: int, service_id: int, mac: str
) -> Device:
    """Free the subscriber's login from a device (see the module notes). NotYours for a
    device not on this subscriber's logins."""
    mac = _mac(mac)
    service_id = record_id(service_id, "service_id")
    for device in await devices(session, subscriber_id):
        if device.service_id == service_id and device.mac == mac:
            break
    else:
        raise NotYours("no such device on your logins", field="mac")
    service = await session.get(Service, service_id, with_for_update=True)
    if device.bound and service.mac_address == mac:
        service.mac_address = None
        for voucher in await session.scalars(
            select(Voucher).where(Voucher.service_id == service_id, Voucher.mac_address == mac)
        ):
            voucher.mac_address = None
        await session.flush()
        await notify_services(session, {service_id})
    await emit(
        session,
        DEVICE_REMOVED,
        {"service_id": service_id, "subscriber_id": subscriber_id, "mac_address": mac},
    )
    return device
