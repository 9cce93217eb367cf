"""Accounts and the ledger: the only place money moves.

Every balance is the sum of an account's entries. Operations on one subscriber's money take
the account row's lock first (`account_for(..., lock=True)`), so two payments or a payment
and an invoice of the same subscriber are applied one after the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.models import Tenant
from kiunga.tenants.actors import Actor
from kiunga.tenants.billing.errors import NotFound
from kiunga.tenants.billing.models import Account, EntryKind, LedgerEntry
from kiunga.tenants.billing.numbering import next_number, reserve_numbers
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import func, inspect, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

DEFAULT_CURRENCY = "KES"
_CURRENCY_KEY = "billing_currency"
_LOCKED_KEY = "billing_locked_accounts"


def actor_columns(actor: Actor) -> dict:
    return {
        "actor_kind": actor.kind,
        "actor_label": actor.label[:120],
        "actor_staff_id": actor.staff_id,
    }


async def tenant_currency(session: AsyncSession) -> str:
    """The tenant's currency (platform.tenants), read once per session."""
    if _CURRENCY_KEY not in session.info:
        schema = session.info.get(TENANT_SCHEMA_KEY)
        currency = await session.scalar(select(Tenant.currency).where(Tenant.schema_name == schema))
        session.info[_CURRENCY_KEY] = currency or DEFAULT_CURRENCY
    return session.info[_CURRENCY_KEY]


def _current_transaction(session: AsyncSession):
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def account_for(session: AsyncSession, subscriber_id: int, *, lock: bool = False) -> Account:
    """The subscriber's account, created on first use; `lock` holds its row until commit.

    A payment that renews a service asks for the same account several times (payment,
    invoice, allocation): once its row is locked, the rest of the same transaction (or
    savepoint, whose rollback would release the lock) uses it without asking again."""
    transaction = _current_transaction(session)
    locked = session.info.get(_LOCKED_KEY)
    if locked is not None and locked[0] is transaction and subscriber_id in locked[1]:
        return locked[1][subscriber_id]
    query = select(Account).where(Account.subscriber_id == subscriber_id)
    if lock:
        query = query.with_for_update()
    account = await session.scalar(query)
    if account is not None:
        if lock and transaction is not None:
            if locked is None or locked[0] is not transaction:
                locked = session.info[_LOCKED_KEY] = (transaction, {})
            locked[1][subscriber_id] = account
        return account
    if await session.get(Subscriber, subscriber_id) is None:
        raise NotFound("subscriber_id", f"no subscriber with id {subscriber_id}")
    # Two first uses at once: the loser's insert does nothing and it reads the winner's row.
    await session.execute(
        insert(Account)
        .values(subscriber_id=subscriber_id, currency=await tenant_currency(session))
        .on_conflict_do_nothing(index_elements=[Account.subscriber_id])
    )
    return (await session.scalars(query.execution_options(populate_existing=True))).one()


async def balance(session: AsyncSession, subscriber_id: int) -> int:
    """The sum of the subscriber's entries: >= 0 nothing owed, > 0 prepaid credit (entries
    held back by `numbered_at_end` count)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.subscriber_id == subscriber_id)
    )
    held = session.info.get(_HELD_KEY) or ()
    pending = sum(
        h.entry["amount"]
        for h in held
        if h.subscriber_id == subscriber_id and inspect(h.document).persistent
    )
    return int(total or 0) + pending


# ----------------------------------------------------------------- numbering at the end
#
# Receipt and invoice numbers are gapless: taking one locks the ISP's counter row until the
# transaction ends (numbering). A payment that renews a service does most of its work
# (allocation, the renewal invoice, restore, statuses, events) after its documents exist;
# numbering them as they are made would hold the counters through all of it and queue the
# ISP's other payments behind it. Inside `numbered_at_end`, a document gets a provisional
# number unique to its row, its ledger entry is held back (balances count it), and when the
# block ends every number is taken and every held entry written, in a few statements just
# before the transaction commits.

_HELD_KEY = "billing_numbered_at_end"


@dataclass(slots=True)
class _Held:
    kind: str
    document: Any
    attribute: str
    subscriber_id: int
    entry: dict[str, Any]
    describe: Callable[[str], str]


@asynccontextmanager
async def numbered_at_end(session: AsyncSession) -> AsyncIterator[None]:
    """Documents numbered by `number_and_post` inside the block are numbered at its end.
    Nested blocks number at the end of the outermost one."""
    if _HELD_KEY in session.info:
        yield
        return
    held: list[_Held] = []
    session.info[_HELD_KEY] = held
    try:
        yield
    finally:
        session.info.pop(_HELD_KEY, None)
    await _number_held(session, held)


async def _number_held(session: AsyncSession, held: list[_Held]) -> None:
    # A document whose savepoint was rolled back is no longer in the database.
    live = [h for h in held if inspect(h.document).persistent]
    # Counters are always taken in the same order, so two payments never wait on each other
    # the wrong way round.
    for kind in sorted({h.kind for h in live}):
        of_kind = [h for h in live if h.kind == kind]
        numbers = await reserve_numbers(session, kind, len(of_kind))
        for h, number in zip(of_kind, numbers, strict=True):
            setattr(h.document, h.attribute, number)
    if live:
        await session.flush()
        # The same keys in every row, so that they go in one statement.
        no_documents = dict.fromkeys(
            ("invoice_id", "payment_id", "credit_note_id", "adjustment_id")
        )
        rows = [
            no_documents
            | h.entry
            | {"description": h.describe(getattr(h.document, h.attribute))[:300]}
            for h in live
        ]
        await session.execute(insert(LedgerEntry), rows)


async def number_and_post(
    session: AsyncSession,
    kind: str,
    document: Any,
    attribute: str,
    account: Account,
    entry_kind: EntryKind,
    amount: int,
    *,
    describe: Callable[[str], str],
    actor: Actor,
    **document_ids: int,
) -> None:
    """Give `document` (already flushed) its next `kind` number in `attribute` and post its
    ledger entry, described by `describe(number)`: now, or at the end of the enclosing
    `numbered_at_end` block."""
    entry = {
        "account_id": account.id,
        "kind": entry_kind,
        "amount": amount,
        **document_ids,
        **actor_columns(actor),
    }
    held = session.info.get(_HELD_KEY)
    if held is None:
        with session.no_autoflush:  # the document's other changes go with its number
            number = await next_number(session, kind)
        setattr(document, attribute, number)
        await session.flush()
        await post_entry(session, account, entry_kind, amount, description=describe(number),
                         actor=actor, **document_ids)  # fmt: skip
        return
    setattr(document, attribute, f"~{document.id}")  # provisional, unique to the row
    await session.flush()
    held.append(_Held(kind, document, attribute, account.subscriber_id, entry, describe))


async def post_entry(
    session: AsyncSession,
    account: Account,
    kind: EntryKind,
    amount: int,
    *,
    description: str,
    actor: Actor,
    **document_ids: int,
) -> LedgerEntry:
    entry = LedgerEntry(
        account_id=account.id,
        kind=kind,
        amount=amount,
        description=description[:300],
        **document_ids,
        **actor_columns(actor),
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry: LedgerEntry
    running_balance: int


async def statement(
    session: AsyncSession,
    subscriber_id: int,
    *,
    since: datetime | None = None,
    limit: int = 500,
) -> list[StatementLine]:
    """The subscriber's latest `limit` entries, oldest first, each with the balance after it
    (computed over every entry, so a shortened statement still shows true balances)."""
    running = func.sum(LedgerEntry.amount).over(order_by=LedgerEntry.id)
    inner = (
        select(LedgerEntry.id.label("entry_id"), running.label("running_balance"))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.subscriber_id == subscriber_id)
        .subquery()
    )
    query = select(LedgerEntry, inner.c.running_balance).join(
        inner, inner.c.entry_id == LedgerEntry.id
    )
    if since is not None:
        query = query.where(LedgerEntry.posted_at >= since)
    rows = (await session.execute(query.order_by(LedgerEntry.id.desc()).limit(limit))).all()
    return [StatementLine(entry, int(running_balance)) for entry, running_balance in reversed(rows)]


async def currency_of(session: AsyncSession, subscriber_id: int) -> str:
    """The subscriber's account currency, without creating an account (reads stay reads)."""
    if await session.get(Subscriber, subscriber_id) is None:
        raise NotFound("subscriber_id", f"no subscriber with id {subscriber_id}")
    currency = await session.scalar(
        select(Account.currency).where(Account.subscriber_id == subscriber_id)
    )
    return currency or await tenant_currency(session)
