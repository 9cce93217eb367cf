"""Voucher sales and agents' commission.

A voucher is sold once: by an agent (or staff at the counter) marking it sold, by the
captive portal's M-Pesa purchase, or — a printed voucher nobody marked — when it is first
redeemed. Each sale is one `VoucherSale` row (unique per voucher) holding the price and
the agent's commission: price × commission_bp / 10 000, rounded down to the minor unit.

Every function takes the tenant session and only flushes: the caller's unit of work commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from kiunga.platform.auth.fence import Fence
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.tenants.subscribers.models import Reseller
from kiunga.tenants.vouchers import codes as code_rules
from kiunga.tenants.vouchers.batches import vouchers_inside
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from kiunga.tenants.vouchers.models import (
    SaleChannel,
    Voucher,
    VoucherBatch,
    VoucherSale,
    VoucherStatus,
)
from kiunga.tenants.zones import tenant_zone
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

MAX_SALE_ITEMS = 1_000
BASIS_POINTS = 10_000
# A voucher that has ended without being used was never sold: it cannot be sold now.
UNSELLABLE = (VoucherStatus.EXPIRED, VoucherStatus.REVOKED)


def commission_of(price: int, commission_bp: int) -> int:
    """The agent's share of `price` in minor units, rounded down (never more than owed)."""
    return price * commission_bp // BASIS_POINTS


@dataclass(frozen=True, slots=True)
class SaleTerms:
    """What a batch sells its vouchers for, and to whose commission."""

    batch_id: int
    price: int
    currency: str
    reseller_id: int | None
    commission_bp: int

    @classmethod
    def of(cls, batch: VoucherBatch) -> SaleTerms:
        return cls(batch.id, batch.price, batch.currency, batch.reseller_id, batch.commission_bp)


def sale_insert(
    voucher_id: int,
    terms: SaleTerms,
    *,
    channel: SaleChannel | str,
    actor_label: str,
    now: datetime,
    payment_id: int | None = None,
):
    """The INSERT of a voucher's sale on `terms`; a voucher already sold keeps its sale."""
    commission_bp = terms.commission_bp if terms.reseller_id is not None else 0
    return (
        pg_insert(VoucherSale)
        .values(
            voucher_id=voucher_id,
            batch_id=terms.batch_id,
            reseller_id=terms.reseller_id,
            channel=SaleChannel(channel),
            price=terms.price,
            commission=commission_of(terms.price, commission_bp),
            currency=terms.currency,
            payment_id=payment_id,
            sold_by=(actor_label or "")[:120],
            sold_at=now,
        )
        .on_conflict_do_nothing(index_elements=["voucher_id"])
    )


async def record_sale(
    session: AsyncSession,
    voucher: Voucher,
    *,
    channel: SaleChannel | str,
    actor_label: str,
    payment_id: int | None = None,
    now: datetime | None = None,
) -> VoucherSale:
    """Record that `voucher` was sold, at its batch's price, with the batch's agent and
    commission. Idempotent: a voucher already sold returns its existing sale. A new
    voucher becomes sold; a voucher already active (redeemed first) keeps its state."""
    existing = await session.scalar(select(VoucherSale).where(VoucherSale.voucher_id == voucher.id))
    if existing is not None:
        return existing
    if voucher.status in UNSELLABLE:
        raise VoucherError(
            "voucher", f"voucher {voucher.code} is {voucher.status.value}", status_code=409
        )
    now = now or utcnow()
    batch = await session.get(VoucherBatch, voucher.batch_id)
    await session.execute(
        sale_insert(
            voucher.id,
            SaleTerms.of(batch),
            channel=channel,
            actor_label=actor_label,
            now=now,
            payment_id=payment_id,
        )
    )
    if voucher.status is VoucherStatus.NEW:
        voucher.status = VoucherStatus.SOLD
    if voucher.sold_at is None:
        voucher.sold_at = now
    await session.flush()
    # None: a concurrent transaction sold it first; its sale is the one.
    return await session.scalar(select(VoucherSale).where(VoucherSale.voucher_id == voucher.id))


def _clean_ids(voucher_ids: Iterable[object]) -> list[int]:
    ids = []
    for value in voucher_ids:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise VoucherError("voucher_ids", "voucher_ids must be whole numbers")
        ids.append(value)
    return list(dict.fromkeys(ids))


async def sell_vouchers(
    session: AsyncSession,
    *,
    voucher_ids: Iterable[object] = (),
    codes: Iterable[str] = (),
    reseller_id: int | None = None,
    actor_label: str = "",
    now: datetime | None = None,
) -> list[VoucherSale]:
    """Mark vouchers sold by their ids or codes (an agent's are confined to their batches).

    All or nothing: an unknown voucher (or another agent's) is not found, and one that is
    active, used up, expired or revoked is refused; one already sold keeps its sale, so a
    repeated request is answered the same.
    """
    ids = _clean_ids(voucher_ids)
    wanted_codes = list(dict.fromkeys(code_rules.normalise_code(c) for c in codes if c))
    field = "voucher_ids" if ids else "codes"
    if not ids and not wanted_codes:
        raise VoucherError("voucher_ids", "give voucher_ids or codes to mark sold")
    if len(ids) + len(wanted_codes) > MAX_SALE_ITEMS:
        raise VoucherError(field, f"at most {MAX_SALE_ITEMS} vouchers at a time")
    query = vouchers_inside(
        select(Voucher).where(Voucher.id.in_(ids) | Voucher.code.in_(wanted_codes)), reseller_id
    )
    found = list(await session.scalars(query.order_by(Voucher.id).with_for_update(of=Voucher)))
    missing_ids = set(ids) - {v.id for v in found}
    missing_codes = set(wanted_codes) - {v.code for v in found}
    if missing_ids:
        raise VoucherNotFound(
            f"no voucher with id {', '.join(map(str, sorted(missing_ids)[:5]))}",
            field="voucher_ids",
        )
    if missing_codes:
        raise VoucherNotFound(f"no voucher {', '.join(sorted(missing_codes)[:5])}", field="codes")
    for voucher in found:
        if voucher.status not in (VoucherStatus.NEW, VoucherStatus.SOLD):
            raise VoucherError(
                field, f"voucher {voucher.code} is {voucher.status.value}", status_code=409
            )
    now = now or utcnow()
    sales = [
        await record_sale(
            session, voucher, channel=SaleChannel.AGENT, actor_label=actor_label, now=now
        )
        for voucher in found
    ]
    await emit(
        session,
        "vouchers.sold",
        {"voucher_ids": [v.id for v in found], "reseller_id": reseller_id, "by": actor_label},
    )
    return sales


async def list_sales(
    session: AsyncSession,
    *,
    reseller_id: int | None = None,
    batch_id: int | None = None,
    channel: SaleChannel | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[VoucherSale, str]], int]:
    """A page of sales, newest first, each with its voucher's code; and how many there are."""
    query = Fence(reseller_id).confine(select(VoucherSale), VoucherSale.reseller_id)
    if batch_id is not None:
        query = query.where(VoucherSale.batch_id == batch_id)
    if channel is not None:
        query = query.where(VoucherSale.channel == channel)
    if since is not None:
        query = query.where(VoucherSale.sold_at >= since)
    if until is not None:
        query = query.where(VoucherSale.sold_at < until)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.add_columns(Voucher.code)
        .join(Voucher, Voucher.id == VoucherSale.voucher_id)
        .order_by(VoucherSale.sold_at.desc(), VoucherSale.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(sale, code) for sale, code in rows], total


@dataclass(frozen=True, slots=True)
class AgentSummary:
    reseller_id: int
    name: str
    batches: int
    # Vouchers in the batches assigned to the agent.
    assigned: int
    sold: int
    # Vouchers of theirs that have been used (active, used up, or revoked while in use).
    redeemed: int
    sales_total: int
    # Commission earned on the agent's sales (what the ISP owes them).
    commission: int
    currency: str


async def agent_summaries(
    session: AsyncSession, *, reseller_id: int | None = None
) -> list[AgentSummary]:
    """Each agent with a batch or a sale: vouchers assigned, sold and redeemed, the sales
    total and the commission owed, by name. `reseller_id` confines it to one agent."""

    def only(query, column):
        return query if reseller_id is None else query.where(column == reseller_id)

    assigned = await session.execute(
        only(
            select(
                VoucherBatch.reseller_id,
                func.count(),
                func.sum(VoucherBatch.count),
                func.max(VoucherBatch.currency),
            ).where(VoucherBatch.reseller_id.is_not(None)),
            VoucherBatch.reseller_id,
        ).group_by(VoucherBatch.reseller_id)
    )
    redeemed = await session.execute(
        only(
            select(VoucherBatch.reseller_id, func.count())
            .join(Voucher, Voucher.batch_id == VoucherBatch.id)
            .where(VoucherBatch.reseller_id.is_not(None), Voucher.activated_at.is_not(None)),
            VoucherBatch.reseller_id,
        ).group_by(VoucherBatch.reseller_id)
    )
    sold = await session.execute(
        only(
            select(
                VoucherSale.reseller_id,
                func.count(),
                func.sum(VoucherSale.price),
                func.sum(VoucherSale.commission),
                func.max(VoucherSale.currency),
            ).where(VoucherSale.reseller_id.is_not(None)),
            VoucherSale.reseller_id,
        ).group_by(VoucherSale.reseller_id)
    )
    facts: dict[int, dict] = {}
    for rid, batches, count, currency in assigned:
        facts.setdefault(rid, {}).update(batches=batches, assigned=int(count), currency=currency)
    for rid, count in redeemed:
        facts.setdefault(rid, {})["redeemed"] = count
    for rid, count, total, commission, currency in sold:
        entry = facts.setdefault(rid, {})
        entry.update(sold=count, sales_total=int(total), commission=int(commission))
        entry.setdefault("currency", currency)
    if not facts:
        return []
    names = dict(
        (
            await session.execute(select(Reseller.id, Reseller.name).where(Reseller.id.in_(facts)))
        ).all()
    )
    summaries = [
        AgentSummary(
            reseller_id=rid,
            name=names.get(rid, f"reseller {rid}"),
            batches=entry.get("batches", 0),
            assigned=entry.get("assigned", 0),
            sold=entry.get("sold", 0),
            redeemed=entry.get("redeemed", 0),
            sales_total=entry.get("sales_total", 0),
            commission=entry.get("commission", 0),
            currency=entry.get("currency") or "",
        )
        for rid, entry in facts.items()
    ]
    return sorted(summaries, key=lambda s: (s.name.lower(), s.reseller_id))


async def count_sold_today(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Vouchers sold since midnight in the ISP's own timezone (the dashboard's counter)."""
    zone = await tenant_zone(session)
    local = (now or utcnow()).astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    return (
        await session.scalar(
            select(func.count()).select_from(VoucherSale).where(VoucherSale.sold_at >= start)
        )
        or 0
    )


async def voucher_codes(session: AsyncSession, voucher_ids: list[int]) -> dict[int, str]:
    """Each voucher's code by id (to show beside its sale)."""
    if not voucher_ids:
        return {}
    rows = await session.execute(
        select(Voucher.id, Voucher.code).where(Voucher.id.in_(voucher_ids))
    )
    return dict(rows.all())
