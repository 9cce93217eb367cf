"""A batch's vouchers as CSV, streamed in chunks so that a batch of 100,000 is never held
in memory whole. Prices are in minor units beside their currency, like every amount;
times are ISO 8601 in UTC."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

from kiunga.platform.csv_cells import SafeCsvWriter
from kiunga.platform.db.engine import Database
from kiunga.tenants.catalog.models import Package
from kiunga.tenants.vouchers.batches import get_batch
from kiunga.tenants.vouchers.models import Voucher, VoucherBatch
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

COLUMNS = (
    "code", "status", "package", "price", "currency", "sold_at", "activated_at",
    "first_login_at", "expires_at", "mac",
)  # fmt: skip
CHUNK_ROWS = 2_000


def _time(value) -> str:
    return value.isoformat() if value is not None else ""


def filename(batch: VoucherBatch) -> str:
    return f"vouchers-batch-{batch.id}.csv"


async def batch_csv(
    session: AsyncSession, batch: VoucherBatch, *, chunk_rows: int = CHUNK_ROWS
) -> AsyncIterator[str]:
    """The header, then the batch's vouchers in id order, `chunk_rows` to a piece."""
    package_name = await session.scalar(select(Package.name).where(Package.id == batch.package_id))
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    query = (
        select(
            Voucher.code,
            Voucher.status,
            Voucher.sold_at,
            Voucher.activated_at,
            Voucher.first_login_at,
            Voucher.expires_at,
            Voucher.mac_address,
        )
        .where(Voucher.batch_id == batch.id)
        .order_by(Voucher.id)
        .execution_options(yield_per=chunk_rows)
    )
    result = await session.stream(query)
    async for partition in result.partitions(chunk_rows):
        for code, status, sold_at, activated_at, first_login_at, expires_at, mac in partition:
            writer.writerow(
                (
                    code,
                    status.value,
                    package_name,
                    batch.price,
                    batch.currency,
                    _time(sold_at),
                    _time(activated_at),
                    _time(first_login_at),
                    _time(expires_at),
                    mac or "",
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


async def stream_batch_csv(
    database: Database, schema: str, batch_id: int, *, reseller_id: int | None = None
) -> AsyncIterator[str]:
    """The CSV in a session of its own, which lives as long as the response streams (the
    request's session has committed and closed by then)."""
    async with database.tenant_session(schema) as session, session.begin():
        batch = await get_batch(session, batch_id, reseller_id=reseller_id)
        async for chunk in batch_csv(session, batch):
            yield chunk
