"""Packages: what an ISP sells (price, validity, speed, where it is sold).

Every function takes the tenant session explicitly and only flushes: the caller's unit of
work commits. Bad input raises PackageError naming the field, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from kiunga.platform.db.base import utcnow
from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.models import Tenant
from kiunga.platform.web.inputs import MAX_ID
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.catalog.periods import period_end
from kiunga.tenants.catalog.rates import InvalidRateLimit, clean_rate_limit
from kiunga.tenants.sites.models import Site
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["period_end"]  # the services area computes periods through this module

MAX_NAME_LENGTH = 120
MAX_PRICE = 10**12  # minor units; far above any package, well inside BIGINT
MAX_SHARED_USERS = 100


class PackageError(DomainError, ValueError):
    """Bad input for a package; `field` names what was wrong."""


class DuplicatePackageName(PackageError):
    kind = Kind.CONFLICT


class PackageNotFound(NotFoundError):
    pass


@dataclass(slots=True)
class PackageFields:
    """A package's settable fields. For an update, None leaves a field as it is (use
    `clear_data_cap` / `clear_fup_rate_limit` to remove those two)."""

    name: str | None = None
    # The name the captive portal shows in Swahili ("" for none: the name above is shown).
    name_sw: str | None = None
    description: str | None = None
    price: int | None = None
    billing_type: str | None = None
    validity_count: int | None = None
    validity_unit: str | None = None
    service_type: str | None = None
    rate_limit: str | None = None
    data_cap_bytes: int | None = None
    fup_rate_limit: str | None = None
    site_ids: list[int] | None = None
    # Hotspot: devices logged in at once with one login (a voucher), and whether the
    # captive portal sells the package.
    shared_users: int | None = None
    sold_on_portal: bool | None = None
    clear_data_cap: bool = False
    clear_fup_rate_limit: bool = False


_REQUIRED_ON_CREATE = ("name", "price", "validity_count", "validity_unit", "rate_limit")


def _whole_number(field: str, value: object, *, minimum: int) -> int:
    # bool is an int in Python; a float (even 10.0) is refused so money never passes one.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PackageError(field, f"{field} must be a whole number")
    if value < minimum:
        raise PackageError(field, f"{field} must be at least {minimum}")
    if value > MAX_ID:
        raise PackageError(field, f"{field} must be at most {MAX_ID}")
    return value


def _choice(field: str, value: str, enum_type):
    try:
        return enum_type(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum_type)
        raise PackageError(field, f"{field} must be one of: {allowed}") from exc


def _rate(field: str, value: str) -> str:
    try:
        return clean_rate_limit(value)
    except InvalidRateLimit as exc:
        raise PackageError(field, str(exc)) from exc


def _clean_name(name: str, field: str = "name", *, required: bool = True) -> str:
    if not isinstance(name, str):
        raise PackageError(field, f"{field} must be text")
    name = " ".join(name.split())
    if not name and required:
        raise PackageError(field, f"{field} is required")
    if len(name) > MAX_NAME_LENGTH:
        raise PackageError(field, f"{field} must be at most {MAX_NAME_LENGTH} characters")
    if not name.isprintable():
        raise PackageError(field, f"{field} must not contain control characters")
    return name


async def _sites(session: AsyncSession, site_ids: list[int]) -> list[Site]:
    wanted = sorted(set(site_ids))
    found = list(await session.scalars(select(Site).where(Site.id.in_(wanted)))) if wanted else []
    missing = sorted(set(wanted) - {site.id for site in found})
    if missing:
        raise PackageError("site_ids", f"no site with id {', '.join(map(str, missing))}")
    return found


async def _apply(session: AsyncSession, package: Package, data: PackageFields) -> None:
    """Validate every given field, then set it: nothing is set when anything is wrong."""
    values: dict[str, object] = {}
    if data.name is not None:
        values["name"] = _clean_name(data.name)
    if data.name_sw is not None:
        values["name_sw"] = _clean_name(data.name_sw, "name_sw", required=False)
    if data.description is not None:
        values["description"] = data.description.strip()
    if data.price is not None:
        values["price"] = _whole_number("price", data.price, minimum=0)
        if values["price"] > MAX_PRICE:
            raise PackageError("price", "price is too large")
    if data.billing_type is not None:
        values["billing_type"] = _choice("billing_type", data.billing_type, BillingType)
    if data.validity_count is not None:
        values["validity_count"] = _whole_number("validity_count", data.validity_count, minimum=1)
    if data.validity_unit is not None:
        values["validity_unit"] = _choice("validity_unit", data.validity_unit, ValidityUnit)
    if data.service_type is not None:
        values["service_type"] = _choice("service_type", data.service_type, ServiceType)
    if data.rate_limit is not None:
        values["rate_limit"] = _rate("rate_limit", data.rate_limit)
    if data.clear_data_cap:
        values["data_cap_bytes"] = None
    elif data.data_cap_bytes is not None:
        values["data_cap_bytes"] = _whole_number("data_cap_bytes", data.data_cap_bytes, minimum=1)
    if data.clear_fup_rate_limit:
        values["fup_rate_limit"] = None
    elif data.fup_rate_limit is not None:
        values["fup_rate_limit"] = _rate("fup_rate_limit", data.fup_rate_limit)
    if data.shared_users is not None:
        values["shared_users"] = _whole_number("shared_users", data.shared_users, minimum=1)
        if values["shared_users"] > MAX_SHARED_USERS:
            raise PackageError("shared_users", f"shared_users must be at most {MAX_SHARED_USERS}")
    if data.sold_on_portal is not None:
        if not isinstance(data.sold_on_portal, bool):
            raise PackageError("sold_on_portal", "sold_on_portal must be true or false")
        values["sold_on_portal"] = data.sold_on_portal
    sites = await _sites(session, data.site_ids) if data.site_ids is not None else None
    name = values.get("name")
    if name is not None and await _name_taken(session, str(name), package.id):
        raise DuplicatePackageName("name", f"a package named {name!r} already exists")
    for key, value in values.items():
        setattr(package, key, value)
    if sites is not None:
        package.sites = sites


async def _name_taken(session: AsyncSession, name: str, except_id: int | None) -> bool:
    query = select(Package.id).where(func.lower(Package.name) == name.lower())
    if except_id is not None:
        query = query.where(Package.id != except_id)
    return await session.scalar(query) is not None


async def _flush_unique(session: AsyncSession, package: Package) -> None:
    # A savepoint: losing a race on the unique name is a clear 409, and the caller's
    # transaction stays usable.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DuplicatePackageName(
            "name", f"a package named {package.name!r} already exists"
        ) from exc


async def tenant_currency(session: AsyncSession, tenant_id: int) -> str:
    return await session.scalar(select(Tenant.currency).where(Tenant.id == tenant_id)) or "KES"


async def list_packages(session: AsyncSession, *, archived: bool | None = False) -> list[Package]:
    """Active packages by default; archived=True only archived ones; None all."""
    query = select(Package).order_by(Package.price, Package.name)
    if archived is True:
        query = query.where(Package.archived_at.is_not(None))
    elif archived is False:
        query = query.where(Package.archived_at.is_(None))
    return list(await session.scalars(query))


async def count_packages(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Package).where(Package.archived_at.is_(None))
    return await session.scalar(query) or 0


async def get_package(session: AsyncSession, package_id: int) -> Package:
    package = await session.get(Package, package_id)
    if package is None:
        raise PackageNotFound(f"no package with id {package_id}")
    return package


async def create_package(session: AsyncSession, data: PackageFields, *, currency: str) -> Package:
    for field in _REQUIRED_ON_CREATE:
        if getattr(data, field) is None:
            raise PackageError(field, f"{field} is required")
    package = Package(
        description="",
        currency=currency,
        billing_type=BillingType.PREPAID,
        service_type=ServiceType.PPPOE,
        sites=[],
    )
    await _apply(session, package, data)
    session.add(package)
    try:
        await _flush_unique(session, package)
    except DuplicatePackageName:
        session.expunge(package)
        raise
    await session.refresh(package)
    await emit(session, "package.created", {"package_id": package.id})
    return package


async def update_package(session: AsyncSession, package_id: int, data: PackageFields) -> Package:
    package = await get_package(session, package_id)
    await _apply(session, package, data)
    await _flush_unique(session, package)
    await session.refresh(package)
    return package


async def set_archived(session: AsyncSession, package_id: int, archived: bool) -> Package:
    """Archived packages are no longer sold; services already on them carry on."""
    package = await get_package(session, package_id)
    if archived and package.archived_at is None:
        package.archived_at = utcnow()
    elif not archived:
        package.archived_at = None
    await session.flush()
    return package


def changes_from(mapping: dict[str, object]) -> PackageFields:
    """PackageFields from a mapping holding some of its field names (others ignored)."""
    names = {field.name for field in fields(PackageFields)}
    return PackageFields(**{key: value for key, value in mapping.items() if key in names})


def describe_validity(package: Package) -> str:
    unit = package.validity_unit.value
    return f"{package.validity_count} {unit}{'' if package.validity_count == 1 else 's'}"
