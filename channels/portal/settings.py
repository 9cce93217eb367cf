"""The captive portal's look (title, welcome in English and Swahili, logo, colours, support
phone, language) and which hotspot packages it sells. One row per ISP; the defaults stand in
until it exists."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.vouchers.errors import VoucherError
from kiunga.tenants.vouchers.models import PortalSettings
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LOGO_BYTES = 64 * 1024
LOGO_TYPES = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/webp": b"RIFF",
    "image/svg+xml": None,
}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_HOTSPOT_HOSTS = 20
# Where the portal keeps its per-process cache of looks in the app's state; the console
# clears it on saving so that this process shows the change at once.
LOOK_CACHE_STATE_KEY = "portal_look_cache"


@dataclass(frozen=True, slots=True)
class PortalLook:
    title: str
    welcome: str
    # Shown when the portal is in Swahili; empty: `welcome`.
    welcome_sw: str
    primary_colour: str
    accent_colour: str
    support_phone: str | None
    default_language: str
    has_logo: bool
    # Changes when the logo does, so that the logo's address can be cached for long.
    version: int
    # The names the hotspots log in at, separated by spaces.
    hotspot_hosts: str = ""


@dataclass(frozen=True, slots=True)
class PortalChange:
    title: str
    welcome: str
    primary_colour: str
    accent_colour: str
    support_phone: str | None
    default_language: str
    welcome_sw: str = ""
    hotspot_hosts: str = ""


@dataclass(frozen=True, slots=True)
class PackageOnSale:
    id: int
    name: str
    price: int
    currency: str
    validity_count: int
    validity_unit: str
    data_cap_bytes: int | None
    # The name in Swahili; empty: `name`.
    name_sw: str = ""


async def _row(session: AsyncSession) -> PortalSettings | None:
    return await session.get(PortalSettings, 1)


async def portal_look(session: AsyncSession, isp_name: str) -> PortalLook:
    row = await session.execute(
        select(
            PortalSettings.title,
            PortalSettings.welcome,
            PortalSettings.welcome_sw,
            PortalSettings.primary_colour,
            PortalSettings.accent_colour,
            PortalSettings.support_phone,
            PortalSettings.default_language,
            PortalSettings.logo.is_not(None),
            PortalSettings.updated_at,
            PortalSettings.hotspot_hosts,
        ).where(PortalSettings.id == 1)
    )
    found = row.first()
    if found is None:
        return PortalLook(isp_name, "", "", "#0b6e4f", "#f2a541", None, "en", False, 0)
    title, welcome, welcome_sw, primary, accent, phone, language, has_logo, updated, hosts = found
    return PortalLook(
        title or isp_name,
        welcome,
        welcome_sw,
        primary,
        accent,
        phone,
        language,
        bool(has_logo),
        int(updated.timestamp()),
        hosts,
    )


async def portal_logo(session: AsyncSession) -> tuple[bytes, str] | None:
    row = (
        await session.execute(
            select(PortalSettings.logo, PortalSettings.logo_type).where(PortalSettings.id == 1)
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return bytes(row[0]), row[1] or "application/octet-stream"


def hotspot_host(raw: str) -> str | None:
    """A host name or IP address as a hotspot's login link names it, lower case and
    without a trailing dot; None when it is neither."""
    host = raw.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return host


def hotspot_hosts(text: str) -> list[str]:
    """The hotspot names in the portal page's field (spaces, commas or lines between)."""
    names = [name for name in re.split(r"[\s,]+", text or "") if name]
    if len(names) > MAX_HOTSPOT_HOSTS:
        raise VoucherError("hotspot_hosts", f"At most {MAX_HOTSPOT_HOSTS} hotspot names")
    hosts = []
    for name in names:
        host = hotspot_host(name)
        if host is None:
            raise VoucherError(
                "hotspot_hosts",
                f"{name[:60]!r} is not a host name or address (for example wifi.example.co.ke)",
            )
        if host not in hosts:
            hosts.append(host)
    if len(" ".join(hosts)) > 500:
        raise VoucherError("hotspot_hosts", "The hotspot names are at most 500 characters")
    return hosts


def check_change(change: PortalChange) -> None:
    if len(change.title) > 120:
        raise VoucherError("title", "The title is at most 120 characters")
    if len(change.welcome) > 500:
        raise VoucherError("welcome", "The welcome text is at most 500 characters")
    if len(change.welcome_sw) > 500:
        raise VoucherError("welcome_sw", "The Kiswahili welcome text is at most 500 characters")
    for field in ("primary_colour", "accent_colour"):
        if not _COLOUR.match(getattr(change, field)):
            raise VoucherError(field, "A colour is written #rrggbb, for example #0b6e4f")
    if change.support_phone and not _PHONE.match(change.support_phone):
        raise VoucherError("support_phone", "A phone number of 7 to 15 digits, + allowed")
    if change.default_language not in ("en", "sw"):
        raise VoucherError("default_language", "The language is en or sw")
    hotspot_hosts(change.hotspot_hosts)


async def _ensure_row(session: AsyncSession) -> PortalSettings:
    row = await _row(session)
    if row is None:
        row = PortalSettings(id=1)
        session.add(row)
        await session.flush()
    return row


async def update_portal_settings(session: AsyncSession, change: PortalChange) -> None:
    check_change(change)
    row = await _ensure_row(session)
    row.title = change.title.strip()
    row.welcome = change.welcome.strip()
    row.welcome_sw = change.welcome_sw.strip()
    row.primary_colour = change.primary_colour.lower()
    row.accent_colour = change.accent_colour.lower()
    row.support_phone = change.support_phone or None
    row.default_language = change.default_language
    row.hotspot_hosts = " ".join(hotspot_hosts(change.hotspot_hosts))
    await session.flush()


def check_logo(data: bytes, content_type: str) -> None:
    if content_type not in LOGO_TYPES:
        raise VoucherError("logo", "The logo is a PNG, JPEG, WebP or SVG image")
    if not data:
        raise VoucherError("logo", "The logo file is empty")
    if len(data) > MAX_LOGO_BYTES:
        raise VoucherError("logo", f"The logo is at most {MAX_LOGO_BYTES // 1024} KB")
    magic = LOGO_TYPES[content_type]
    if magic is not None and not data.startswith(magic):
        raise VoucherError("logo", f"The file is not a {content_type.split('/')[1]} image")
    if magic is None and b"<svg" not in data[:2048]:
        raise VoucherError("logo", "The file is not an SVG image")


async def set_logo(session: AsyncSession, data: bytes | None, content_type: str | None) -> None:
    """A new logo, or none (data None)."""
    if data is not None:
        check_logo(data, content_type or "")
    row = await _ensure_row(session)
    row.logo = data
    row.logo_type = content_type if data is not None else None
    await session.flush()


async def hotspot_packages(session: AsyncSession) -> list[Package]:
    """Every hotspot package that is not archived (the console's choice list)."""
    rows = await session.scalars(
        select(Package)
        .where(Package.service_type == ServiceType.HOTSPOT, Package.archived_at.is_(None))
        .order_by(Package.price, Package.name)
    )
    return list(rows)


async def packages_on_sale(session: AsyncSession) -> list[PackageOnSale]:
    rows = await session.execute(
        select(
            Package.id,
            Package.name,
            Package.name_sw,
            Package.price,
            Package.currency,
            Package.validity_count,
            Package.validity_unit,
            Package.data_cap_bytes,
        )
        .where(
            Package.service_type == ServiceType.HOTSPOT,
            Package.sold_on_portal.is_(True),
            Package.archived_at.is_(None),
        )
        .order_by(Package.price, Package.name)
    )
    return [
        PackageOnSale(pid, name, price, currency, count, unit.value, cap, name_sw)
        for pid, name, name_sw, price, currency, count, unit, cap in rows
    ]


async def swahili_package_names(session: AsyncSession) -> dict[str, str]:
    """English name → Swahili name of every hotspot package that has one (archived too: a
    voucher outlives its package's sale), for the portal's status and waiting pages."""
    rows = await session.execute(
        select(Package.name, Package.name_sw).where(
            Package.service_type == ServiceType.HOTSPOT, Package.name_sw != ""
        )
    )
    return {name: name_sw for name, name_sw in rows}


async def set_packages_on_sale(session: AsyncSession, package_ids: set[int]) -> None:
    """Exactly these hotspot packages are on sale on the portal."""
    hotspot = (Package.service_type == ServiceType.HOTSPOT,)
    await session.execute(
        update(Package)
        .where(*hotspot, Package.id.in_(package_ids or {-1}))
        .values(sold_on_portal=True)
    )
    await session.execute(
        update(Package)
        .where(*hotspot, Package.id.not_in(package_ids or {-1}))
        .values(sold_on_portal=False)
    )
    await session.flush()
