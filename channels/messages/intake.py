"""Provider callbacks in, stored before they are parsed.

Africa's Talking and Twilio POST `application/x-www-form-urlencoded` forms. Every callback
is first written to `channel_callbacks` as it arrived (its raw body, bounded), keyed by the
provider's own id (`provider_key`); a retry of one already stored is a repeat, answered with
what the first one was answered and processed no further. Only then is it parsed and acted on,
and what came of it is written back (`finish_callback`). A body that cannot be parsed is kept
with its error and answered politely: one bad callback never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from kiunga.channels.messages.models import ChannelCallback
from kiunga.platform.db.engine import Database
from litestar import Request
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import func

# A USSD hop or an SMS is a few hundred bytes; a WhatsApp message at most 4,096 characters.
MAX_BODY_BYTES = 32 * 1024
MAX_FIELDS = 60
MAX_KEY_LENGTH = 200


class UnreadableForm(ValueError):
    """The body is not a form we read: too large, NUL bytes, not UTF-8, too many fields."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is over `limit` (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def stored_text(raw: bytes) -> str:
    """The body as kept: bytes that are not UTF-8, and NUL, shown as U+FFFD."""
    return raw[:MAX_BODY_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def parse_form(raw: bytes) -> dict[str, str]:
    """A provider's form: the first value of each field. UnreadableForm for a body that is
    not a clean UTF-8 form (NUL bytes refused, in the body or escaped in a value)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableForm("the body is not UTF-8") from exc
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableForm(f"the body is not a form: {exc}") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise UnreadableForm("NUL bytes are refused")
        form.setdefault(name, value)
    return form


@dataclass(frozen=True, slots=True)
class StoredCallback:
    id: int
    # True when this provider key was stored before: answer with `answer`, do nothing more.
    seen_before: bool
    answer: str | None
    processed: bool


def _insert(kind: str, key: str, raw: bytes, source: str | None, **columns):
    return (
        insert(ChannelCallback)
        .values(
            kind=kind,
            provider_key=key,
            raw_body=stored_text(raw),
            source_address=(source or None) and source[:45],
            **columns,
        )
        .on_conflict_do_nothing(constraint="uq_channel_callbacks_key")
        .returning(ChannelCallback.id)
    )


def _earlier(kind: str, key: str):
    return select(ChannelCallback.id, ChannelCallback.answer, ChannelCallback.processed_at).where(
        ChannelCallback.kind == kind, ChannelCallback.provider_key == key
    )


async def store_callback(
    database: Database,
    schema: str,
    kind: str,
    provider_key: str,
    raw: bytes,
    source: str | None,
) -> StoredCallback:
    """Write the callback down (its own committed transaction), or find it stored before."""
    key = provider_key[:MAX_KEY_LENGTH]
    async with database.tenant_session(schema) as session, session.begin():
        new_id = await session.scalar(_insert(kind, key, raw, source))
        if new_id is not None:
            return StoredCallback(new_id, False, None, False)
        earlier = (await session.execute(_earlier(kind, key))).one()
        return StoredCallback(earlier.id, True, earlier.answer, earlier.processed_at is not None)


async def store_callback_on(
    connection: AsyncConnection, kind: str, provider_key: str, raw: bytes, source: str | None
) -> StoredCallback:
    """The same on a connection the caller holds (a tenant engine's) and goes on using for
    the work the callback asks for: the row is committed by the statement itself
    (autocommit, one round trip instead of BEGIN, INSERT, COMMIT), so it stays whatever
    the work then does; the connection is left as it was, out of any transaction."""
    key = provider_key[:MAX_KEY_LENGTH]
    await connection.execution_options(isolation_level="AUTOCOMMIT")
    try:
        new_id = await connection.scalar(_insert(kind, key, raw, source))
        if new_id is not None:
            stored = StoredCallback(new_id, False, None, False)
        else:
            earlier = (await connection.execute(_earlier(kind, key))).one()
            stored = StoredCallback(
                earlier.id, True, earlier.answer, earlier.processed_at is not None
            )
        # Ends the block SQLAlchemy opened around the statements (the server has nothing
        # to commit: each statement committed itself).
        await connection.commit()
    except BaseException:
        await connection.rollback()
        raise
    finally:
        await connection.execution_options(
            isolation_level=connection.sync_connection.default_isolation_level
        )
    return stored


async def store_callback_in(
    session: AsyncSession,
    kind: str,
    provider_key: str,
    raw: bytes,
    source: str | None,
    *,
    error: str | None = None,
) -> StoredCallback:
    """The same in the caller's tenant transaction, for work done in that transaction: the
    row is written as processed (or with `error`), and commits or rolls back with the
    work. Should the work fail, `note_callback` (or, the transaction lost, a fresh
    `store_callback_in`) keeps it with why. A repeat leaves the row as it was."""
    key = provider_key[:MAX_KEY_LENGTH]
    outcome = {"error": error[:2000]} if error else {"processed_at": func.now()}
    new_id = await session.scalar(_insert(kind, key, raw, source, **outcome))
    if new_id is not None:
        return StoredCallback(new_id, False, None, False)
    earlier = (await session.execute(_earlier(kind, key))).one()
    return StoredCallback(earlier.id, True, earlier.answer, earlier.processed_at is not None)


async def note_callback(session: AsyncSession, callback_id: int, *, error: str | None) -> None:
    """What came of a stored callback, in the caller's transaction: processed (no error),
    or kept unprocessed with why."""
    await session.execute(
        update(ChannelCallback)
        .where(ChannelCallback.id == callback_id)
        .values(
            error=error and error[:2000],
            processed_at=func.now() if error is None else None,
        )
    )


async def finish_callback(
    database: Database,
    schema: str,
    callback_id: int,
    *,
    answer: str | None = None,
    error: str | None = None,
) -> None:
    """What came of a stored callback: the answer given (a USSD screen), or why it failed."""
    async with database.tenant_session(schema) as session, session.begin():
        await session.execute(
            update(ChannelCallback)
            .where(ChannelCallback.id == callback_id)
            .values(
                answer=answer,
                error=error and error[:2000],
                processed_at=func.now() if error is None else None,
            )
        )
