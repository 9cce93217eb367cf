"""Per-tenant document numbers: INV-000123, RCT-000123, CN-000123."""

from __future__ import annotations

from kiunga.tenants.billing.models import DocumentSequence
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

PREFIXES = {"invoice": "INV", "receipt": "RCT", "credit_note": "CN"}


def format_number(kind: str, value: int) -> str:
    return f"{PREFIXES[kind]}-{value:06d}"


async def reserve_numbers(session: AsyncSession, kind: str, count: int) -> list[str]:
    """The next `count` numbers of `kind` in this tenant, in order.

    One statement creates the counter on first use or moves it on by `count`; the row stays
    locked until the transaction ends, so concurrent documents never share a number and a
    rolled-back document gives its number back (no gaps). A batch (the lifecycle's renewals)
    reserves its whole block in that one statement.
    """
    if count < 1:
        return []
    statement = (
        insert(DocumentSequence)
        .values(name=kind, last_value=count)
        .on_conflict_do_update(
            index_elements=[DocumentSequence.name],
            set_={"last_value": DocumentSequence.last_value + count},
        )
        .returning(DocumentSequence.last_value)
    )
    last = (await session.execute(statement)).scalar_one()
    return [format_number(kind, value) for value in range(last - count + 1, last + 1)]


async def next_number(session: AsyncSession, kind: str) -> str:
    """The next number of `kind` in this tenant."""
    return (await reserve_numbers(session, kind, 1))[0]
