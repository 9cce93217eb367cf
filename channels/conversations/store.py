"""Where a conversation's state waits between turns: Redis (or Valkey), with a TTL.

A USSD session is keyed by Africa's Talking's sessionId and lives a few minutes (AT ends a
session after about 180 seconds); an SMS or WhatsApp conversation is keyed by the ISP and
the phone and lives half an hour: a reply after that starts afresh.
"""

from __future__ import annotations

import json

from kiunga.channels.conversations.engine import State
from redis.asyncio import Redis

PREFIX = "kiunga:conversation"
USSD_TTL_SECONDS = 300
CHAT_TTL_SECONDS = 30 * 60


def conversation_key(schema: str, channel: str, handle: str) -> str:
    """`handle`: the USSD sessionId, or the phone for SMS and WhatsApp."""
    return f"{PREFIX}:{schema}:{channel}:{handle[:120]}"


def ttl_for(channel: str) -> int:
    return USSD_TTL_SECONDS if channel == "ussd" else CHAT_TTL_SECONDS


class ConversationStore:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def load(self, key: str) -> State | None:
        raw = await self.redis.get(key)
        if raw is None:
            return None
        try:
            return State.from_json(json.loads(raw))
        except (ValueError, TypeError):
            return None  # unreadable: start afresh rather than fail the subscriber

    async def save(self, key: str, state: State, ttl: int) -> None:
        await self.redis.set(key, json.dumps(state.to_json(), separators=(",", ":")), ex=ttl)

    async def drop(self, key: str) -> None:
        await self.redis.delete(key)
