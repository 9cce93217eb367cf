"""The subscriber list: filters, a search box, sorting and numbered pages with a total.

Search matches any part of a name or email (case-insensitive), the start of an account
number, and the start of a phone number however it is typed (0712…, 254712…, +254712…).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.fence import Fence
from kiunga.tenants.subscribers.models import Subscriber, SubscriberPhone, SubscriberStatus
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

# sort key → columns, "-" for descending
SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "account_number": ("account_number",),
    "-account_number": ("-account_number",),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "status": ("status", "name", "id"),
}
MAX_PER_PAGE = 200


@dataclass(frozen=True, slots=True)
class SubscriberFilters:
    status: SubscriberStatus | None = None
    region: str | None = None
    branch: str | None = None
    site_id: int | None = None
    reseller_id: int | None = None
    q: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Subscriber]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phone_prefix(text: str) -> str | None:
    """The start of an E.164 number from the start of a phone number as people type it:
    0712 34 → +25471234, 254712 → +254712, +2547 → +2547, 712 → +254712."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 3 or any(ch.isalpha() for ch in text):
        return None
    if text.lstrip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+254" + digits[1:]
    if digits.startswith("254"):
        return "+" + digits
    return "+254" + digits


def _search(q: str):
    text = " ".join(q.split())
    conditions = [
        # search_text is name and email in lower case: LIKE, not the much slower ILIKE.
        Subscriber.search_text.like(f"%{_escape_like(text.lower())}%"),
        Subscriber.account_number.like(f"{_escape_like(text.upper())}%"),
    ]
    prefix = _phone_prefix(text)
    if prefix:
        # A range on the phone index rather than LIKE: it works in any collation.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        numbers = select(SubscriberPhone.subscriber_id).where(
            SubscriberPhone.phone >= prefix, SubscriberPhone.phone < upper
        )
        conditions.append(Subscriber.id.in_(numbers))
    return or_(*conditions)


def filtered(filters: SubscriberFilters) -> Select:
    query = select(Subscriber)
    if filters.status is not None:
        query = query.where(Subscriber.status == filters.status)
    if filters.region:
        query = query.where(Subscriber.region == filters.region)
    if filters.branch:
        query = query.where(Subscriber.branch == filters.branch)
    if filters.site_id is not None:
        query = query.where(Subscriber.site_id == filters.site_id)
    query = Fence(filters.reseller_id).confine(query, Subscriber.reseller_id)
    if filters.q and filters.q.strip():
        query = query.where(_search(filters.q))
    return query


async def list_subscribers(
    session: AsyncSession,
    filters: SubscriberFilters,
    *,
    sort: str = "name",
    page: int = 1,
    per_page: int = 50,
) -> Page:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    query = filtered(filters)
    offset = (page - 1) * per_page
    if filters.q and filters.q.strip():
        return await _search_page(session, query, sort, page, per_page)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(*_order(Subscriber, sort)).limit(per_page).offset(offset)
    return Page(list(await session.scalars(ordered)), total, page, per_page)


async def _search_page(session, query: Select, sort: str, page: int, per_page: int) -> Page:
    # Searches usually match few rows. Left alone, the planner walks the sort index hoping
    # to meet a page's worth soon, and reads the whole table when matches are rare. So the
    # matches are gathered once (one scan), then counted and sorted.
    matches = query.cte("matches").prefix_with("MATERIALIZED")
    entity = aliased(Subscriber, matches)
    ordered = (
        select(entity, func.count().over())
        .order_by(*_order(entity, sort))
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = (await session.execute(ordered)).all()
    if rows:
        total = rows[0][1]
    else:  # past the last page: count on its own
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return Page([row[0] for row in rows], total, page, per_page)


def _order(entity, sort: str):
    for key in SORTS.get(sort, SORTS["name"]):
        column = getattr(entity, key.lstrip("-"))
        yield column.desc() if key.startswith("-") else column


async def distinct_values(session: AsyncSession, column) -> list[str]:
    """The regions (or branches) in use, for the console's filter menus."""
    query = select(column).where(column != "").group_by(column).order_by(column).limit(200)
    return list(await session.scalars(query))
