"""Per-tenant document numbers: INV-000123, RCT-000123, CN-000123."""

from __future__ import annotations

from kiunga.tenants.billing.models import DocumentSequence
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

PREFIXES = {"invoice": "INV", "receipt": "RCT", "credit_note": "CN"}


async def next_number(session: AsyncSession, kind: str) -> str:
    """The next number of `kind` in this tenant.

    One statement creates the counter on first use or bumps it; the row stays locked until
    the transaction ends, so concurrent documents never share a number and a rolled-back
    document gives its number back (no gaps).
    """
    statement = (
        insert(DocumentSequence)
        .values(name=kind, last_value=1)
        .on_conflict_do_update(
            index_elements=[DocumentSequence.name],
            set_={"last_value": DocumentSequence.last_value + 1},
        )
        .returning(DocumentSequence.last_value)
    )
    value = (await session.execute(statement)).scalar_one()
    return f"{PREFIXES[kind]}-{value:06d}"
