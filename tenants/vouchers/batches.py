"""Voucher batches: generating them, finding and listing vouchers, revoking one or a whole
batch, and expiring unused codes once their batch's date passes.

Every function takes the tenant session and only flushes: the caller's unit of work commits.
`reseller_id` arguments confine an agent (an agent's API key or console login) to the
batches assigned to their reseller record: anything else is simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kiunga.platform.auth.fence import Fence
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.outbox import emit
from kiunga.platform.web.inputs import MAX_ID
from kiunga.tenants.catalog.models import Package, ServiceType
from kiunga.tenants.subscribers.models import Reseller
from kiunga.tenants.vouchers import codes
from kiunga.tenants.vouchers.errors import VoucherError, VoucherNotFound
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch, VoucherStatus
from sqlalchemy import BigInteger, Text, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

MAX_BATCH = 100_000
MAX_NAME_LENGTH = 120
DEFAULT_CODE_LENGTH = 8
# Codes are drawn at random: keep the code space far larger than the batch, so that the
# re-draws after a collision stay few and a guessed code is rarely a live one.
MIN_SPACE_PER_CODE = 10_000
MAX_DRAWS = 20
# Vouchers a revocation may still stop; used up, expired and revoked ones stay as they are.
REVOCABLE = (VoucherStatus.NEW, VoucherStatus.SOLD, VoucherStatus.ACTIVE)
UNUSED = (VoucherStatus.NEW, VoucherStatus.SOLD)


@dataclass
class BatchSpec:
    """What a new batch is made of. `price` None: the package's price."""

    package_id: object
    count: object
    price: object = None
    code_length: object = DEFAULT_CODE_LENGTH
    alphabet: str | None = None
    prefix: str | None = None
    unused_expires_at: datetime | None = None
    mac_binding: bool = False
    name: str = ""
    reseller_id: object = None
    commission_bp: object = 0


def _whole(field: str, value: object, *, low: int, high: int = MAX_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VoucherError(field, f"{field} must be a whole number")
    if value < low or value > high:
        raise VoucherError(field, f"{field} must be between {low} and {high}")
    return value


def _code_error(exc: codes.CodeSpecError) -> VoucherError:
    return VoucherError(exc.field, exc.message)


async def _usable_package(session: AsyncSession, package_id: object) -> Package:
    package_id = _whole("package_id", package_id, low=1)
    package = await session.get(Package, package_id)
    if package is None:
        raise VoucherError("package_id", f"no package with id {package_id}", status_code=404)
    if package.archived_at is not None:
        raise VoucherError("package_id", f"package {package.name!r} is archived")
    if package.service_type is not ServiceType.HOTSPOT:
        raise VoucherError("package_id", f"package {package.name!r} is not a hotspot package")
    return package


async def _assignment(session: AsyncSession, reseller_id: object, commission_bp: object):
    commission = _whole("commission_bp", commission_bp or 0, low=0, high=10_000)
    if reseller_id is None:
        if commission:
            raise VoucherError("commission_bp", "commission needs an agent (reseller_id)")
        return None, 0
    reseller_id = _whole("reseller_id", reseller_id, low=1)
    if await session.get(Reseller, reseller_id) is None:
        raise VoucherError("reseller_id", f"no reseller with id {reseller_id}", status_code=404)
    return reseller_id, commission


async def create_batch(
    session: AsyncSession, spec: BatchSpec, *, created_by: str = "", now: datetime | None = None
) -> VoucherBatch:
    """Check the spec, then write the batch and its `count` codes (one INSERT … SELECT unnest
    per draw; the few codes that collide with the ISP's existing ones are drawn again)."""
    now = now or utcnow()
    package = await _usable_package(session, spec.package_id)
    count = _whole("count", spec.count, low=1, high=MAX_BATCH)
    price = package.price if spec.price is None else _whole("price", spec.price, low=0)
    try:
        length = codes.clean_length(spec.code_length)
        alphabet = codes.clean_alphabet(spec.alphabet)
        prefix = codes.clean_prefix(spec.prefix)
    except codes.CodeSpecError as exc:
        raise _code_error(exc) from None
    if len(alphabet) ** length < count * MIN_SPACE_PER_CODE:
        raise VoucherError(
            "code_length", f"codes of {length} characters are too few for {count} vouchers"
        )
    expires = spec.unused_expires_at
    if expires is not None:
        if expires.tzinfo is None:
            raise VoucherError("unused_expires_at", "unused_expires_at needs a time zone")
        if expires <= now:
            raise VoucherError("unused_expires_at", "unused_expires_at must be in the future")
    name = " ".join(str(spec.name or "").split())
    if len(name) > MAX_NAME_LENGTH:
        raise VoucherError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    reseller_id, commission_bp = await _assignment(session, spec.reseller_id, spec.commission_bp)

    batch = VoucherBatch(
        name=name or f"{package.name} × {count}",
        package_id=package.id,
        count=count,
        price=price,
        currency=package.currency,
        code_length=length,
        alphabet=alphabet,
        prefix=prefix,
        unused_expires_at=expires,
        mac_binding=bool(spec.mac_binding),
        reseller_id=reseller_id,
        commission_bp=commission_bp,
        created_by=created_by[:120],
        created_at=now,
    )
    session.add(batch)
    await session.flush()
    await _insert_codes(session, batch)
    await emit(
        session,
        "vouchers.batch_created",
        {"batch_id": batch.id, "count": count, "reseller_id": reseller_id},
    )
    return batch


async def _insert_codes(session: AsyncSession, batch: VoucherBatch) -> None:
    missing = batch.count
    for _ in range(MAX_DRAWS):
        drawn = codes.random_codes(missing, batch.code_length, batch.alphabet, batch.prefix)
        inserted = (
            pg_insert(Voucher)
            .from_select(
                ["batch_id", "code"],
                select(literal(batch.id, BigInteger), func.unnest(cast(drawn, ARRAY(Text)))),
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(Voucher.id)
            .cte("inserted")
        )
        missing -= await session.scalar(select(func.count()).select_from(inserted)) or 0
        if missing == 0:
            return
    raise VoucherError("code_length", "too few unused codes left: choose longer codes")


async def assign_batch(
    session: AsyncSession,
    batch_id: int,
    *,
    reseller_id: object,
    commission_bp: object = 0,
    actor_label: str = "",
) -> VoucherBatch:
    """Hand a batch to an agent (or take it back with reseller_id None) at a commission.
    Sales already made keep the agent and commission they were made with."""
    batch = await get_batch(session, batch_id, lock=True)
    reseller, commission = await _assignment(session, reseller_id, commission_bp)
    batch.reseller_id, batch.commission_bp = reseller, commission
    await session.flush()
    await emit(
        session,
        "vouchers.batch_assigned",
        {"batch_id": batch.id, "reseller_id": reseller, "by": actor_label},
    )
    return batch


async def get_batch(
    session: AsyncSession, batch_id: int, *, reseller_id: int | None = None, lock: bool = False
) -> VoucherBatch:
    query = Fence(reseller_id).confine(
        select(VoucherBatch).where(VoucherBatch.id == batch_id), VoucherBatch.reseller_id
    )
    if lock:
        query = query.with_for_update()
    batch = await session.scalar(query)
    if batch is None:
        raise VoucherNotFound(f"no voucher batch with id {batch_id}", field="batch_id")
    return batch


async def list_batches(
    session: AsyncSession,
    *,
    reseller_id: int | None = None,
    package_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[VoucherBatch], int]:
    """A page of batches, newest first, and how many there are."""
    query = Fence(reseller_id).confine(select(VoucherBatch), VoucherBatch.reseller_id)
    if package_id is not None:
        query = query.where(VoucherBatch.package_id == package_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(VoucherBatch.id.desc()).limit(limit).offset(offset))
    return list(rows), total


async def status_counts(
    session: AsyncSession, batch_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """For each batch, how many of its vouchers are in each state (every state named)."""
    counts = {batch_id: {status.value: 0 for status in VoucherStatus} for batch_id in batch_ids}
    if not batch_ids:
        return counts
    rows = await session.execute(
        select(Voucher.batch_id, Voucher.status, func.count())
        .where(Voucher.batch_id.in_(list(batch_ids)))
        .group_by(Voucher.batch_id, Voucher.status)
    )
    for batch_id, status, count in rows:
        counts[batch_id][VoucherStatus(status).value] = count
    return counts


async def list_vouchers(
    session: AsyncSession,
    batch_id: int,
    *,
    status: VoucherStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Voucher], int]:
    query = select(Voucher).where(Voucher.batch_id == batch_id)
    if status is not None:
        query = query.where(Voucher.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Voucher.id).limit(limit).offset(offset))
    return list(rows), total


def vouchers_inside(query, reseller_id: int | None):
    """A query of vouchers narrowed to those of batches inside the caller's fence."""
    fence = Fence(reseller_id)
    if fence.whole_isp:
        return query
    batch = query.join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
    return fence.confine(batch, VoucherBatch.reseller_id)


async def get_voucher(
    session: AsyncSession, voucher_id: int, *, reseller_id: int | None = None, lock: bool = False
) -> Voucher:
    query = vouchers_inside(select(Voucher).where(Voucher.id == voucher_id), reseller_id)
    if lock:
        query = query.with_for_update(of=Voucher)
    voucher = await session.scalar(query)
    if voucher is None:
        raise VoucherNotFound(f"no voucher with id {voucher_id}", field="voucher_id")
    return voucher


async def find_voucher(
    session: AsyncSession, code: str, *, reseller_id: int | None = None
) -> Voucher:
    """A voucher by its code as typed (case, spaces and dashes do not matter)."""
    wanted = codes.normalise_code(code)
    if not wanted:
        raise VoucherError("code", "code is required")
    voucher = await session.scalar(
        vouchers_inside(select(Voucher).where(Voucher.code == wanted), reseller_id)
    )
    if voucher is None:
        raise VoucherNotFound("no voucher with that code", field="code")
    return voucher


async def end_voucher_service(session: AsyncSession, voucher: Voucher, reason: str) -> None:
    """Stop what a live voucher gives: its hotspot service and any session on the router.

    Redemption owns the hotspot service (tenants/vouchers/redeem.py); where it offers
    `revoke_live_service` that is used, else the service is terminated here, which also
    queues the router's disconnect through the service's own events.
    """
    if voucher.service_id is None:
        return
    try:
        from kiunga.tenants.vouchers import redeem
    except ModuleNotFoundError as exc:
        if exc.name != "kiunga.tenants.vouchers.redeem":
            raise
        redeem = None
    revoke_live_service = getattr(redeem, "revoke_live_service", None)
    if revoke_live_service is not None:
        await revoke_live_service(session, voucher)
        return
    from kiunga.tenants.actors import Actor
    from kiunga.tenants.services.lifecycle import terminate_service
    from kiunga.tenants.services.models import Service, ServiceStatus

    service = await session.get(Service, voucher.service_id)
    if service is not None and service.status is not ServiceStatus.TERMINATED:
        await terminate_service(session, service.id, reason=reason, actor=Actor.system("vouchers"))


async def revoke_voucher(
    session: AsyncSession,
    voucher_id: int,
    *,
    reason: str = "",
    actor_label: str = "",
    reseller_id: int | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Revoke one voucher that is new, sold or active (an active one loses its service)."""
    now = now or utcnow()
    voucher = await get_voucher(session, voucher_id, reseller_id=reseller_id, lock=True)
    if voucher.status not in REVOCABLE:
        raise VoucherError(
            "voucher_id", f"voucher {voucher.code} is {voucher.status.value}", status_code=409
        )
    was_active = voucher.status is VoucherStatus.ACTIVE
    voucher.status = VoucherStatus.REVOKED
    voucher.ended_at = now
    await session.flush()
    why = reason.strip() or "voucher revoked"
    if was_active:
        await end_voucher_service(session, voucher, why)
    await emit(
        session,
        "vouchers.revoked",
        {"voucher_ids": [voucher.id], "batch_id": voucher.batch_id, "by": actor_label},
    )
    return voucher


async def revoke_batch(
    session: AsyncSession,
    batch_id: int,
    *,
    reason: str = "",
    actor_label: str = "",
    reseller_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Revoke every voucher of the batch that is not used up, expired or revoked already;
    returns how many. Active ones lose their service. Revoking again changes nothing."""
    now = now or utcnow()
    batch = await get_batch(session, batch_id, reseller_id=reseller_id, lock=True)
    why = reason.strip() or f"voucher batch {batch.id} revoked"
    # Live ones one by one (each has a service to end); the unused ones in one statement.
    active = list(
        await session.scalars(
            select(Voucher)
            .where(Voucher.batch_id == batch.id, Voucher.status == VoucherStatus.ACTIVE)
            .with_for_update()
        )
    )
    for voucher in active:
        voucher.status = VoucherStatus.REVOKED
        voucher.ended_at = now
    await session.flush()
    for voucher in active:
        await end_voucher_service(session, voucher, why)
    unused = await session.execute(
        update(Voucher)
        .where(Voucher.batch_id == batch.id, Voucher.status.in_(UNUSED))
        .values(status=VoucherStatus.REVOKED, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    revoked = len(active) + (unused.rowcount or 0)
    if batch.revoked_at is None:
        batch.revoked_at = now
    await session.flush()
    if revoked:
        await emit(
            session,
            "vouchers.batch_revoked",
            {"batch_id": batch.id, "count": revoked, "by": actor_label},
        )
    return revoked


async def expire_unused(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Mark expired every new or sold voucher whose batch's unused_expires_at has passed;
    returns how many. Vouchers in use keep running to their own expiry."""
    now = now or utcnow()
    due = select(VoucherBatch.id).where(
        VoucherBatch.unused_expires_at.is_not(None), VoucherBatch.unused_expires_at <= now
    )
    result = await session.execute(
        update(Voucher)
        .where(Voucher.status.in_(UNUSED), Voucher.batch_id.in_(due))
        .values(status=VoucherStatus.EXPIRED, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
