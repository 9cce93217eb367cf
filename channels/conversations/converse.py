"""One turn of a conversation on any channel, start to end: the state from Redis, the
engine's step in one tenant transaction (with the events of what it asked for), the screen
rendered for the channel, the state saved (or dropped after a final screen).

`converse` is what every inbound route calls, and what another surface may call to speak
the same flows (the Phone simulator goes through the real callbacks instead).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from kiunga.channels.conversations.actions import emit_later
from kiunga.channels.conversations.engine import Context, Engine, Screen, State
from kiunga.channels.conversations.flows import FLOWS
from kiunga.channels.conversations.render import UssdRenderer, renderer_for
from kiunga.channels.conversations.store import ConversationStore, conversation_key, ttl_for
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY, Database
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    # The conversation ended (USSD: an END screen).
    final: bool
    language: str
    subscriber_id: int | None


@asynccontextmanager
async def _session(
    database: Database, schema: str, connection: AsyncConnection | None
) -> AsyncIterator[AsyncSession]:
    if connection is None:
        async with database.tenant_session(schema) as session:
            yield session
        return
    session = AsyncSession(bind=connection, expire_on_commit=False)
    session.info[TENANT_SCHEMA_KEY] = schema
    async with session:
        yield session


async def converse(
    database: Database,
    redis: Redis,
    schema: str,
    *,
    channel: str,
    phone: str,
    handle: str,
    text: str | None,
    key: str,
    network_code: str | None = None,
    fresh: bool = False,
    begin_at: str | None = None,
    data: dict[str, Any] | None = None,
    language_hint: str | None = None,
    on_reply: Callable[[AsyncSession, Reply], Awaitable[None]] | None = None,
    connection: AsyncConnection | None = None,
) -> Reply:
    """Answer `text` (None: the session's first hop) from `phone` on `channel`.

    `handle` names the conversation (the USSD sessionId; the phone for SMS and WhatsApp);
    `key` names this turn uniquely (the stored callback), for what it asks to be done after.
    `fresh` starts the conversation afresh; `begin_at` then goes straight to that node with
    `data` (an SMS keyword: BAL is the account screen, PAY 500 the payment). `on_reply`
    runs in the turn's transaction with the answer (an SMS reply queued, the inbound
    message logged): the turn, what it asked for and its reply commit together.
    `connection`: a tenant connection the caller holds (the one its callback was stored
    on), used for the turn's transaction instead of taking another from the pool."""
    store = ConversationStore(redis)
    state_key = conversation_key(schema, channel, handle)
    state = None if fresh or begin_at else await store.load(state_key)
    new = state is None
    state = state or State()
    if language_hint:
        state.data["language_hint"] = language_hint
    async with _session(database, schema, connection) as session, session.begin():
        ctx = Context(session, schema, channel, phone, state, network_code)

        def pages(screen: Screen) -> int:
            return UssdRenderer(ctx.language).pages(screen) if channel == "ussd" else 1

        engine = Engine(FLOWS, pages)
        if new:
            screen = await engine.begin(ctx)
            if begin_at and not screen.final:
                ctx.data.update(data or {})
                screen = await engine.go(ctx, begin_at)
            elif text and (channel == "ussd" or text.strip().isdigit()) and not screen.final:
                screen = await engine.turn(ctx, text)
        else:
            screen = await engine.turn(ctx, text or "")
        if screen.final and ctx.deferred:
            await emit_later(session, ctx.deferred, key=key, channel=channel)
        rendered = renderer_for(channel, state.language).render(screen, state.page)
        reply = Reply(rendered, screen.final, state.language, state.subscriber_id)
        if on_reply is not None:
            await on_reply(session, reply)
    if screen.final:
        await store.drop(state_key)
    else:
        await store.save(state_key, state, ttl_for(channel))
    return reply
