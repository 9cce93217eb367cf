"""Signing in to /me with the phone number and a one-time code sent by SMS, and the
signed-in session.

Codes: six digits, kept in Redis only as an HMAC (keyed by the installation's secret, so a
copy of Redis does not give codes away) for CODE_TTL seconds; a code takes at most
CODE_ATTEMPTS wrong tries (then it is gone), and a new code replaces the old one. Asking
for codes and trying them are both counted before anything is looked at, per phone and per
client address (AttemptLimiter): nobody can flood a phone with SMS or guess through the
million codes. Whether a phone is anyone's account is never told: the answer to asking for
a code is the same either way.

Sessions: a random token in an HttpOnly cookie; Redis holds, under the token's hash, the
ISP, the phone and the chosen account, for SESSION_TTL seconds from sign-in. Signing out
deletes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from kiunga.platform.auth.attempts import AttemptLimiter, Limited, WhenRedisIsAway, source_of
from redis.asyncio import Redis

CODE_TTL = 600
CODE_ATTEMPTS = 5
SESSION_TTL = 12 * 3600
# Codes asked for, per phone and per client address, in a window; and tries at codes. An
# address gets more: mobile networks put many subscribers behind one public address.
SEND_LIMITS = {"phone": 3, "source": 20}
TRY_LIMITS = {"phone": 10, "source": 60}
WINDOW_SECONDS = 15 * 60
FORM_TOKEN_TTL = 2 * 3600

# KEYS[1]: the code's hash; ARGV[1]: the digest of the code tried, ARGV[2]: tries allowed.
# 1 when right (and the code is used up), 0 when wrong or absent (the code goes after the
# last allowed try).
_CHECK = """
local stored = redis.call('HGET', KEYS[1], 'digest')
if not stored then return 0 end
if stored == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
"""


def _digest(key: bytes, *parts: object) -> str:
    return hmac.new(key, ":".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()


class SignInCodes:
    def __init__(self, redis: Redis, key: bytes):
        self._redis = redis
        self._key = key
        self._check = redis.register_script(_CHECK)
        self._send = AttemptLimiter(
            redis, "kiunga:me:send", SEND_LIMITS, WINDOW_SECONDS, when_away=WhenRedisIsAway.REFUSE
        )
        self._try = AttemptLimiter(
            redis, "kiunga:me:try", TRY_LIMITS, WINDOW_SECONDS, when_away=WhenRedisIsAway.REFUSE
        )

    @staticmethod
    def _keys(tenant_id: int, phone: str, source: str | None) -> dict[str, str]:
        return {"phone": f"{tenant_id}:{phone}", "source": f"{tenant_id}:{source_of(source)}"}

    def _code_key(self, tenant_id: int, phone: str) -> str:
        return f"kiunga:me:code:{tenant_id}:{phone}"

    async def may_send(self, tenant_id: int, phone: str, source: str | None) -> Limited | None:
        """Count a code asked for; Limited when the phone or the address has had enough."""
        return await self._send.take(self._keys(tenant_id, phone, source))

    async def issue(self, tenant_id: int, phone: str) -> str:
        """A new code for the phone (the old one no longer works)."""
        code = f"{secrets.randbelow(10**6):06d}"
        key = self._code_key(tenant_id, phone)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": _digest(self._key, tenant_id, phone, code)})
            pipe.expire(key, CODE_TTL)
            await pipe.execute()
        return code

    async def may_try(self, tenant_id: int, phone: str, source: str | None) -> Limited | None:
        return await self._try.take(self._keys(tenant_id, phone, source))

    async def check(self, tenant_id: int, phone: str, code: str) -> bool:
        """Whether `code` is the phone's current code (used up when it is)."""
        if len(code) != 6 or not code.isdigit():
            # Still a try: a malformed guess costs what a wrong one does.
            code = "x"
        digest = _digest(self._key, tenant_id, phone, code)
        right = await self._check(
            keys=[self._code_key(tenant_id, phone)], args=[digest, CODE_ATTEMPTS]
        )
        return int(right) == 1


@dataclass(frozen=True, slots=True)
class MeSession:
    token: str
    tenant_id: int
    phone: str
    subscriber_id: int | None  # the account chosen (None: a phone on several, not chosen)


class Sessions:
    def __init__(self, redis: Redis):
        self._redis = redis

    @staticmethod
    def _key(token: str) -> str:
        return "kiunga:me:session:" + hashlib.sha256(token.encode()).hexdigest()

    async def create(self, tenant_id: int, phone: str, subscriber_id: int | None) -> str:
        token = secrets.token_urlsafe(32)
        body = json.dumps({"t": tenant_id, "p": phone, "s": subscriber_id})
        await self._redis.set(self._key(token), body, ex=SESSION_TTL)
        return token

    async def load(self, token: str | None, tenant_id: int) -> MeSession | None:
        """The session of `token`, if it is one of this ISP's (a cookie from another host
        is nobody's here)."""
        if not token or len(token) > 100:
            return None
        raw = await self._redis.get(self._key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        if data.get("t") != tenant_id:
            return None
        return MeSession(token, tenant_id, data["p"], data.get("s"))

    async def choose(self, session: MeSession, subscriber_id: int) -> None:
        key = self._key(session.token)
        ttl = await self._redis.ttl(key)
        if ttl and ttl > 0:
            body = json.dumps({"t": session.tenant_id, "p": session.phone, "s": subscriber_id})
            await self._redis.set(key, body, ex=ttl)

    async def end(self, token: str) -> None:
        await self._redis.delete(self._key(token))


class FormTokens:
    """A form's token: an HMAC of the ISP, the browser's nonce cookie and the time, so a
    page from another site (which can neither read the cookie nor the page) cannot post."""

    def __init__(self, key: bytes):
        self._key = key

    def make(self, tenant_id: int, nonce: str, *, now: float | None = None) -> str:
        stamp = int(now if now is not None else time.time())
        return f"{stamp}.{_digest(self._key, 'form', tenant_id, nonce, stamp)}"

    def valid(self, tenant_id: int, nonce: str, token: object, *, now: float | None = None) -> bool:
        if not nonce or not isinstance(token, str) or len(token) > 100 or "." not in token:
            return False
        stamp_text, mac = token.split(".", 1)
        if not stamp_text.isdigit():
            return False
        stamp = int(stamp_text)
        now = now if now is not None else time.time()
        if not (now - FORM_TOKEN_TTL <= stamp <= now + 60):
            return False
        return hmac.compare_digest(mac, _digest(self._key, "form", tenant_id, nonce, stamp))
