"""Sites: the places an ISP runs equipment from (a mast, a POP, an estate's cabinet).

Every function takes the tenant session explicitly and only flushes: the caller's unit of
work commits. Creating a site records a `site.created` event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.errors import DomainError, Kind, NotFoundError
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.sites.models import Site
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

MAX_NAME_LENGTH = 120
MAX_REGION_LENGTH = 120


class SiteError(DomainError, ValueError):
    """Bad input for a site; `field` names what was wrong."""


class DuplicateSiteName(SiteError):
    kind = Kind.CONFLICT


class SiteNotFound(NotFoundError):
    pass


@dataclass(frozen=True, slots=True)
class SiteChanges:
    """A partial update: None leaves a field as it is."""

    name: str | None = None
    region: str | None = None


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise SiteError("name", "name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise SiteError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    return name


def _clean_region(region: str) -> str:
    region = " ".join((region or "").split())
    if len(region) > MAX_REGION_LENGTH:
        raise SiteError("region", f"region must be at most {MAX_REGION_LENGTH} characters")
    return region


async def list_sites(session: AsyncSession) -> list[Site]:
    return list(await session.scalars(select(Site).order_by(Site.name)))


async def count_sites(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Site)) or 0


async def get_site(session: AsyncSession, site_id: int) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise SiteNotFound(f"no site with id {site_id}")
    return site


async def _name_taken(session: AsyncSession, name: str, except_id: int | None = None) -> bool:
    query = select(Site.id).where(func.lower(Site.name) == name.lower())
    if except_id is not None:
        query = query.where(Site.id != except_id)
    return await session.scalar(query) is not None


async def _flush_unique(session: AsyncSession, name: str) -> None:
    # A savepoint, so that losing a race on the unique name leaves the caller's
    # transaction usable (and the error is a clear 409, not a failed transaction).
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise DuplicateSiteName("name", f"a site named {name!r} already exists") from exc


async def create_site(session: AsyncSession, *, name: str, region: str = "") -> Site:
    name, region = _clean_name(name), _clean_region(region)
    if await _name_taken(session, name):
        raise DuplicateSiteName("name", f"a site named {name!r} already exists")
    site = Site(name=name, region=region)
    session.add(site)
    try:
        await _flush_unique(session, name)
    except DuplicateSiteName:
        if site in session:
            session.expunge(site)
        raise
    await session.refresh(site)  # created_at comes from the database
    await emit(session, "site.created", {"site_id": site.id, "name": site.name})
    return site


async def update_site(session: AsyncSession, site_id: int, changes: SiteChanges) -> Site:
    site = await get_site(session, site_id)
    if changes.name is not None:
        name = _clean_name(changes.name)
        if await _name_taken(session, name, except_id=site.id):
            raise DuplicateSiteName("name", f"a site named {name!r} already exists")
        site.name = name
    if changes.region is not None:
        site.region = _clean_region(changes.region)
    await _flush_unique(session, site.name)
    return site


async def delete_site(session: AsyncSession, site_id: int) -> None:
    site = await get_site(session, site_id)
    await session.delete(site)
    await session.flush()
