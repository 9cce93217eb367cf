"""Resellers: list, add and change them (the table lives beside the subscribers they bring).

Every function takes the tenant session and only flushes: the caller's unit of work commits.
"""

from __future__ import annotations

from kiunga.platform.errors import DomainError, NotFoundError
from kiunga.tenants.subscribers.models import Reseller, Subscriber
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_NAME_LENGTH = 200
_UNSET = object()


class ResellerError(DomainError, ValueError):
    """Bad input for a reseller; `field` names what was wrong."""


class ResellerNotFound(NotFoundError):
    pass


def clean_name(name: object) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ResellerError("name", "name is required")
    if len(text) > MAX_NAME_LENGTH:
        raise ResellerError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    return text


def clean_phone(phone: object) -> str | None:
    text = str(phone or "").strip()
    if not text:
        return None
    try:
        return normalise_phone(text)
    except InvalidPhone as exc:
        raise ResellerError("phone", str(exc)) from None


async def get_reseller(session: AsyncSession, reseller_id: int) -> Reseller:
    reseller = await session.get(Reseller, reseller_id)
    if reseller is None:
        raise ResellerNotFound(f"no reseller with id {reseller_id}")
    return reseller


async def create_reseller(session: AsyncSession, *, name: object, phone: object = None) -> Reseller:
    reseller = Reseller(name=clean_name(name), phone=clean_phone(phone))
    session.add(reseller)
    await session.flush()
    await session.refresh(reseller)
    return reseller


async def update_reseller(
    session: AsyncSession, reseller_id: int, *, name: object = _UNSET, phone: object = _UNSET
) -> Reseller:
    """Change the given fields; every field is checked before anything is changed."""
    reseller = await get_reseller(session, reseller_id)
    changes: dict[str, object] = {}
    if name is not _UNSET:
        changes["name"] = clean_name(name)
    if phone is not _UNSET:
        changes["phone"] = clean_phone(phone)
    for field, value in changes.items():
        setattr(reseller, field, value)
    await session.flush()
    return reseller


def _subscriber_counts():
    return (
        select(Subscriber.reseller_id, func.count().label("subscribers"))
        .where(Subscriber.reseller_id.is_not(None))
        .group_by(Subscriber.reseller_id)
        .subquery()
    )


async def list_resellers(
    session: AsyncSession, *, q: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[tuple[Reseller, int]], int]:
    """A page of resellers by name with how many subscribers each has, and the total."""
    query = select(Reseller)
    search = " ".join((q or "").split())
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(Reseller.name.ilike(pattern) | Reseller.phone.ilike(pattern))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    counts = _subscriber_counts()
    rows = await session.execute(
        query.add_columns(func.coalesce(counts.c.subscribers, 0))
        .outerjoin(counts, counts.c.reseller_id == Reseller.id)
        .order_by(Reseller.name, Reseller.id)
        .limit(limit)
        .offset(offset)
    )
    return [(reseller, int(count)) for reseller, count in rows], total


async def subscriber_count(session: AsyncSession, reseller_id: int) -> int:
    query = select(func.count()).select_from(Subscriber)
    return await session.scalar(query.where(Subscriber.reseller_id == reseller_id)) or 0


async def reseller_choices(session: AsyncSession) -> list[Reseller]:
    """Every reseller by name, for a form's select."""
    return list(await session.scalars(select(Reseller).order_by(Reseller.name, Reseller.id)))
