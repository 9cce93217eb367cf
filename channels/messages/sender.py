"""The sender: drains one ISP's outbound queue through Africa's Talking and Twilio, at
the ISP's send rate, and never sends a message twice.

When it runs. `outbound.queue_message` writes a `messages.queued` outbox event with the
first message of a transaction; its handler (`wake_sender`) enqueues a drain of that ISP
under an id derived from the event (`messages.drain:<isp>:<event id>`), so a re-delivered
event never queues a second drain. A periodic sweep (`sweep_queues`, every minute, every
ISP) settles lapsed claims and drains whatever waited: quiet hours that ended, retries
whose backoff passed, messages in doubt whose grace passed, and anything a lost job missed.

Claiming. One drain per ISP works at a time, across workers (a Redis lock it renews while
it works; a drain that finds it taken comes back when it lapses at the latest, and the
holder looks again after letting go), so what is claimed is what is being sent. It takes
small groups of due messages (`queued`, or `in_doubt` past their grace) with `FOR UPDATE
SKIP LOCKED` and marks them `sending` with a lease (`claimed_until`) in a transaction
that commits before any of them is handed to a provider; should two drains ever overlap
(a lock lapsed under a stalled drain) they still never take the same message. A group is
what goes to the provider at once (GROUP_SIZE, fewer when the send rate allows fewer for
the next fifth of a second), and two groups are in flight, each message on a thread of the
client of its own: `sending` means being handed over now, not waiting behind others, so a
sender that dies leaves at most those behind. A dead drain's lock lapses in half a lease
(it is renewed at every heartbeat), and its successor carries on with the rest.

The rate. Each ISP's `send_rate_per_second` (channel settings) is kept by a counter in
Redis per ISP and fifth of a second (shared, should two drains overlap), which hands out
the sends; a drain that finds the window used up waits for the next. Within a group the
messages go concurrently.

After the provider answers, the group's outcomes are written at once: `sent` with the
provider's id, cost and attempts; a provider that could not be reached (AT or Twilio down,
5xx) puts the message back to `queued` with an exponential backoff (`send_after`), never
lost; a request that ended without a clear answer (a read timeout) leaves it in doubt, as
a crash would; a refusal (a bad number, bad credentials) makes it `failed` with the
reason.

None sent twice. A message is `sending` (committed) before the provider call and `sent`
right after it. A live drain renews the leases of what it holds every quarter lease; a
sender that dies in between leaves `sending` with a lease that lapses. Whether its request
was made is told by `Unsent`, a Redis set of the claimed ids not yet handed over: the
drain takes a message's id out just before its request (and sends nothing whose id it
could not take out). When the lease has lapsed, the next drain or sweep takes out what is
left: those were never handed over and are queued again at once; the others are marked
`in_doubt` — the provider may or may not have them. A delivery report settles such a
message (`receipts.py`: AT reports carry the phone, so a report with an unknown id and the
phone of a message in doubt, or still `sending`, proves the provider took that message: it
becomes sent, and delivered, under that id). Only a message still in doubt after a grace
period with no report is sent again. The lease outlasts a provider call's timeouts, so a
slow call is never taken for a dead one.

An ISP without an Africa's Talking app: its SMS are not tried and not failed; they stay
`queued`, noted "waiting for SMS settings", their attempts untouched, until the ISP saves
its channel settings (which wakes them and the sender: `outbound.wake_waiting`), looked
at again every SETTINGS_RECHECK meanwhile. A WhatsApp message of an ISP without Twilio
goes as an SMS (and waits so, should SMS be missing too).

WhatsApp. Free text only within 24 hours of the contact's last WhatsApp message
(`ChannelContact.whatsapp_last_inbound_at`); outside it the ISP's approved template for
the kind (`ChannelSettings.whatsapp_templates`, {kind: ContentSid}) with the rendered text
as its variable "1"; with no template the message goes as an SMS instead, and so does one
that Twilio fails afterwards for the window (status callback, ErrorCode 63016; `fallback.py`).

Timings can be changed for tests and benchmarks by the environment:
KIUNGA_MESSAGES_BACKOFF (first retry delay, seconds), KIUNGA_MESSAGES_LEASE and
KIUNGA_MESSAGES_DOUBT_GRACE.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import time as clock
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from arq.connections import ArqRedis
from kiunga.channels.messages import secrets
from kiunga.channels.messages.fallback import fall_back_to_sms
from kiunga.channels.messages.holds import hold_back
from kiunga.channels.messages.models import (
    ChannelContact,
    ChannelSettings,
    Direction,
    Message,
    MessageChannel,
    MessageStatus,
)
from kiunga.channels.messages.outbound import (
    QUEUED_TOPIC,
    SETTINGS_RECHECK,
    WAITING_FOR_SETTINGS,
)
from kiunga.channels.messages.settings import whatsapp_status_url
from kiunga.integrations.africastalking.interfaces import (
    AtCredentials,
    SmsRefused,
    SmsSender,
    SmsSent,
    SmsUnavailable,
)
from kiunga.integrations.twilio.interfaces import (
    TwilioCredentials,
    WhatsAppRefused,
    WhatsAppSender,
    WhatsAppUnavailable,
)
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database
from kiunga.platform.jobs.execution import TaskContext
from kiunga.platform.jobs.queue import enqueue
from kiunga.platform.jobs.registry import on_event, periodic, task
from kiunga.platform.jobs.tenants import TenantRef
from redis.exceptions import LockError
from sqlalchemy import func, select, update

log = logging.getLogger("kiunga.messages.sender")

WHATSAPP_WINDOW = timedelta(hours=24)
# A drain job works this long, then hands over to its successor (see drain_queue).
DRAIN_SLICE = 5.0
# The minute's sweep drains inline, for longer.
DRAIN_BUDGET = 240.0
WINDOW = 0.2  # the rate counter's window, seconds
# A group is what goes to the provider at once: every message claimed has a thread of the
# client waiting for it (the AT client's pool is GROUP_SIZE * GROUPS_IN_FLIGHT), so that
# `sending` means "being handed over now", not "waiting its turn behind others".
GROUP_SIZE = 32
GROUPS_IN_FLIGHT = 2
MAX_CONCURRENCY = GROUP_SIZE * GROUPS_IN_FLIGHT
MAX_BACKOFF = 3600.0
MAX_ATTEMPTS = 12  # then failed: the provider was unreachable for a day or so


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


@dataclass(frozen=True)
class Timings:
    backoff: float = 30.0
    # Longer than a provider call may take (the clients time out well within it).
    lease: float = 120.0
    # How long a message in doubt waits for a delivery report before it is sent again.
    # Only a report can tell whether the provider took it: Africa's Talking's SMS API (and
    # its SDK) sends, and fetches inbound messages, but has no query for a message sent.
    # Its reports follow the carrier's answers, seconds apart as a rule but later when a
    # network buffers or reports are retried. Ten minutes covers those, at the price of
    # the rare message that never reached AT going ten minutes late; a shorter grace
    # would risk a second SMS (paid for twice, and a subscriber told twice). Our own side
    # adds the queue in front of the reports route when its server is busy: the outbound
    # benchmark measures it (up to 79 s on a loaded 2-core machine that also ran the
    # sender), well within ten minutes.
    doubt_grace: float = 600.0

    @classmethod
    def from_environment(cls) -> Timings:
        return cls(
            backoff=_env_seconds("KIUNGA_MESSAGES_BACKOFF", cls.backoff),
            lease=_env_seconds("KIUNGA_MESSAGES_LEASE", cls.lease),
            doubt_grace=_env_seconds("KIUNGA_MESSAGES_DOUBT_GRACE", cls.doubt_grace),
        )

    @property
    def heartbeat(self) -> float:
        """How often a drain renews the leases of the messages it holds."""
        return max(0.5, self.lease / 4)

    @property
    def lock_hold(self) -> float:
        """How long the ISP's drain lock lasts unless renewed (at each heartbeat): a dead
        drain's successor starts on the rest of the queue this soon, while the dead one's
        own claims wait out their lease."""
        return max(2.0, self.lease / 2)

    def retry_delay(self, attempts: int) -> float:
        return min(MAX_BACKOFF, self.backoff * 2 ** max(0, attempts - 1))


def parse_cost(text: str | None) -> tuple[int | None, str | None]:
    """AT's "KES 0.8000" as (800000, "KES"): millionths, exactly; (None, None) if unreadable."""
    if not text:
        return None, None
    parts = text.split()
    if len(parts) != 2 or len(parts[0]) != 3 or not parts[0].isalpha():
        return None, None
    try:
        amount = Decimal(parts[1])
    except InvalidOperation:
        return None, None
    if not amount.is_finite():
        return None, None
    return int((amount * 1_000_000).to_integral_value()), parts[0].upper()


# ------------------------------------------------------------------ the providers


@dataclass
class Providers:
    """The clients a drain sends through (the real ones; tests point them at emulators
    through the ISP's base URLs)."""

    sms: SmsSender
    whatsapp: WhatsAppSender


def default_providers() -> Providers:
    from kiunga.integrations.africastalking.client import AfricasTalkingSms
    from kiunga.integrations.twilio.client import TwilioWhatsApp

    return Providers(sms=AfricasTalkingSms(), whatsapp=TwilioWhatsApp())


_PROVIDERS: list[Providers] = []


def providers() -> Providers:
    """One set of clients per process (they keep their connections)."""
    if not _PROVIDERS:
        _PROVIDERS.append(default_providers())
    return _PROVIDERS[0]


# ------------------------------------------------------------------ the rate


class SendRate:
    """The ISP's sends per second, shared by all its drains through a Redis counter per
    fifth of a second."""

    def __init__(self, redis: ArqRedis, tenant_slug: str, per_second: int):
        self.redis = redis
        self.key = f"kiunga:messages:rate:{tenant_slug}"
        self.per_window = max(1, math.floor(per_second * WINDOW))
        self.window = WINDOW if per_second * WINDOW >= 1 else 1.0 / per_second

    async def take(self, wanted: int) -> int:
        """Up to `wanted` sends allowed now (waits for a window with room)."""
        wanted = max(1, min(wanted, self.per_window))
        while True:
            now = clock.time()
            window = math.floor(now / self.window)
            key = f"{self.key}:{window}"
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incrby(key, wanted)
                pipe.expire(key, 5)
                used, _ = await pipe.execute()
            before = used - wanted
            if before < self.per_window:
                return min(wanted, self.per_window - before)
            await asyncio.sleep(max(0.005, (window + 1) * self.window - now))


# ------------------------------------------------------------------ claiming


_WAITING = (MessageStatus.QUEUED, MessageStatus.IN_DOUBT)


class Unsent:
    """The claimed messages not yet handed to a provider: a Redis set per ISP, the token
    that says who may still act on a claimed message.

    A drain adds a group's ids right after its claim commits, and takes each id out
    (SREM answering 1) just before that message's request is made; it sends nothing whose
    id it could not take out. Settling a dead drain's lapsed claims takes the ids out too:
    an id it removes proves the request was never made (the message is queued again at
    once); one already gone may have reached the provider (in doubt). Whoever removes an
    id owns the message, so a stalled drain and the settlement never both act on it, and
    anything lost on the way (Redis restarted, a drain killed between its claim and the
    SADD) errs towards doubt, never towards a second send."""

    def __init__(self, redis: ArqRedis, tenant_slug: str, timings: Timings):
        self.redis = redis
        self.key = f"kiunga:messages:unsent:{tenant_slug}"
        self.ttl = max(60, math.ceil(timings.lease * 4))

    async def add(self, ids: list[int]) -> None:
        if ids:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(self.key, *ids)
                pipe.expire(self.key, self.ttl)
                await pipe.execute()

    async def take(self, ids: list[int]) -> set[int]:
        """The ids among `ids` this caller took out of the set (now its own)."""
        if not ids:
            return set()
        if len(ids) == 1:  # one before each request: a plain command, no pipeline's cost
            return set(ids) if await self.redis.srem(self.key, ids[0]) else set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.srem(self.key, message_id)
            removed = await pipe.execute()
        return {message_id for message_id, gone in zip(ids, removed, strict=True) if gone}


async def settle_lapsed_claims(
    database: Database, schema: str, timings: Timings, unsent: Unsent | None = None
) -> int:
    """Messages whose sender died: those it never handed over are queued again at once (the
    `Unsent` marker proves it); the rest are in doubt, resent only after the grace unless a
    delivery report settles them first."""
    async with database.tenant_session(schema) as session, session.begin():
        lapsed = list(
            await session.scalars(
                select(Message.id)
                .where(
                    Message.direction == Direction.OUT,
                    Message.status == MessageStatus.SENDING,
                    Message.claimed_until < func.now(),
                )
                .order_by(Message.id)
                .with_for_update(skip_locked=True)
            )
        )
        if not lapsed:
            return 0
        never_left = await unsent.take(lapsed) if unsent is not None else set()
        if never_left:
            await session.execute(
                update(Message)
                .where(Message.id.in_(sorted(never_left)))
                .values(
                    status=MessageStatus.QUEUED,
                    claimed_until=None,
                    send_after=func.now(),
                    # That try never reached the provider.
                    attempts=func.greatest(Message.attempts - 1, 0),
                    last_error="the sender stopped before handing it over",
                )
            )
        in_doubt = [message_id for message_id in lapsed if message_id not in never_left]
        if in_doubt:
            await session.execute(
                update(Message)
                .where(Message.id.in_(in_doubt))
                .values(
                    status=MessageStatus.IN_DOUBT,
                    claimed_until=None,
                    # The grace runs from the lapse of the claim, not from whenever a drain
                    # noticed it: the dead sender renewed its claims at most a heartbeat
                    # before it died, so the claim lapsed no sooner than the lease, less a
                    # heartbeat, after its request; the report has had that and the grace.
                    send_after=func.coalesce(Message.claimed_until, func.now())
                    + timedelta(seconds=timings.doubt_grace),
                    last_error="the sender stopped during the provider call",
                )
            )
        return len(lapsed)


async def claim(database: Database, schema: str, limit: int, timings: Timings) -> list[Message]:
    """Up to `limit` due messages, marked `sending` under a lease and committed."""
    async with database.tenant_session(schema) as session, session.begin():
        await hold_back(session, limit=limit)  # quiet hours and stale news, looked at now
        due = (
            select(Message.id)
            .where(
                Message.direction == Direction.OUT,
                Message.status.in_(_WAITING),
                Message.send_after <= func.now(),
            )
            .order_by(Message.send_after, Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await session.scalars(
            update(Message)
            .where(Message.id.in_(due))
            .values(
                status=MessageStatus.SENDING,
                claimed_until=func.now() + timedelta(seconds=timings.lease),
                attempts=Message.attempts + 1,
            )
            .returning(Message)
        )
        claimed = list(rows)
        for message in claimed:
            session.expunge(message)
    claimed.sort(key=lambda m: m.id)
    return claimed


async def renew_leases(database: Database, schema: str, held: set[int], timings: Timings) -> None:
    """The drain is alive: the messages it holds keep their claim (only a dead drain's
    claims lapse and are taken for in doubt)."""
    if not held:
        return
    async with database.tenant_session(schema) as session, session.begin():
        # Rows being written down right now are skipped (and need no renewal): waiting
        # for them could deadlock with that write, which locks in another order.
        renewable = (
            select(Message.id)
            .where(Message.id.in_(sorted(held)), Message.status == MessageStatus.SENDING)
            .order_by(Message.id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        await session.execute(
            update(Message)
            .where(Message.id.in_(renewable))
            .values(claimed_until=func.now() + timedelta(seconds=timings.lease))
        )


async def due_count(database: Database, schema: str) -> int:
    async with database.tenant_session(schema) as session:
        return (
            await session.scalar(
                select(func.count(Message.id)).where(
                    Message.direction == Direction.OUT,
                    Message.status.in_(_WAITING),
                    Message.send_after <= func.now(),
                )
            )
            or 0
        )


# ------------------------------------------------------------------ sending one


@dataclass
class Outcome:
    """What came of one send, written back with its group."""

    message_id: int
    status: MessageStatus
    provider_id: str | None = None
    cost_micros: int | None = None
    cost_currency: str | None = None
    template_sid: str | None = None
    error: str | None = None
    retry_after: float | None = None
    # Send again as an SMS (WhatsApp not set up, or outside the window with no template).
    fall_back: bool = False
    # Not tried: the ISP's channel is not set up (its claim's attempt is given back).
    waiting: bool = False


@dataclass
class IspChannels:
    """The ISP's settings, with its credentials decrypted, for one drain."""

    settings: ChannelSettings | None
    at: AtCredentials | None = None
    twilio: TwilioCredentials | None = None
    windows: dict[str, datetime | None] = field(default_factory=dict)
    # Where Twilio is to tell what became of each WhatsApp message (its 24-hour refusal,
    # 63016, comes only so), named on every send rather than left to the sender's
    # configuration in Twilio's console; None without KIUNGA_PUBLIC_URL or a token.
    status_callback: str | None = None

    @classmethod
    def of(cls, settings: ChannelSettings | None) -> IspChannels:
        at = twilio = None
        if settings is not None and settings.at_username and settings.at_api_key_encrypted:
            at = AtCredentials(
                settings.at_username,
                secrets.decrypt(settings.at_api_key_encrypted),
                settings.at_base_url or None,
            )
        if (
            settings is not None
            and settings.twilio_account_sid
            and settings.twilio_auth_token_encrypted
            and settings.whatsapp_from
        ):
            twilio = TwilioCredentials(
                settings.twilio_account_sid,
                secrets.decrypt(settings.twilio_auth_token_encrypted),
                settings.twilio_base_url or None,
            )
        return cls(settings, at, twilio, status_callback=whatsapp_status_url(settings))

    @property
    def rate(self) -> int:
        return self.settings.send_rate_per_second if self.settings else 20


async def _load_channels(database: Database, schema: str) -> IspChannels:
    async with database.tenant_session(schema) as session:
        settings = await session.get(ChannelSettings, 1)
        if settings is not None:
            session.expunge(settings)
    return IspChannels.of(settings)


_WAITING_FOR_AT = f"{WAITING_FOR_SETTINGS}: Africa's Talking is not set up for this ISP"


async def park_waiting_sms(database: Database, schema: str, isp: IspChannels) -> int:
    """An ISP without Africa's Talking: its due SMS wait for the settings, all in one
    statement, rather than each claimed (at the ISP's rate) only to be put back."""
    if isp.at is not None:
        return 0
    async with database.tenant_session(schema) as session, session.begin():
        parked = await session.execute(
            update(Message)
            .where(
                Message.direction == Direction.OUT,
                Message.channel == MessageChannel.SMS,
                Message.status == MessageStatus.QUEUED,
                Message.send_after <= func.now(),
            )
            .values(send_after=func.now() + SETTINGS_RECHECK, last_error=_WAITING_FOR_AT)
        )
        return parked.rowcount


async def _load_windows(database: Database, schema: str, phones: list[str]) -> dict:
    async with database.tenant_session(schema) as session:
        rows = await session.execute(
            select(ChannelContact.phone, ChannelContact.whatsapp_last_inbound_at).where(
                ChannelContact.phone.in_(phones)
            )
        )
        return dict(rows.all())


# The provider may have taken a message whose request ended so: no answer after it was
# sent (a read timeout), or an answer we cannot read. Sending it again could send it
# twice, so it is in doubt, as after a crash (settled by its report, else resent after the
# grace). Anything else "unavailable" (a 5xx or 429 answer: nothing was taken; a connect
# timeout) is retried with backoff.
_AMBIGUOUS = (
    "ReadTimeout",
    # requests' ConnectionError is also a connection reset after the request went out.
    "ConnectionError",
    "unreachable: Timeout",
    "without SMSMessageData",
    "unreadable",
    "no statusCode",
)


def _unavailable(message: Message, error: str, timings: Timings) -> Outcome:
    if any(mark in error for mark in _AMBIGUOUS):
        return Outcome(
            message.id,
            MessageStatus.IN_DOUBT,
            error=f"no clear answer, in doubt: {error}",
            retry_after=timings.doubt_grace,
        )
    return _retry(message, error, timings)


def _retry(message: Message, error: str, timings: Timings) -> Outcome:
    if message.attempts >= MAX_ATTEMPTS:
        return Outcome(message.id, MessageStatus.FAILED, error=f"gave up: {error}")
    return Outcome(
        message.id,
        MessageStatus.QUEUED,
        error=error,
        retry_after=timings.retry_delay(message.attempts),
    )


async def send_sms(
    message: Message, isp: IspChannels, sender: SmsSender, timings: Timings
) -> Outcome:
    if isp.at is None:
        return Outcome(
            message.id,
            MessageStatus.QUEUED,
            error=_WAITING_FOR_AT,
            retry_after=SETTINGS_RECHECK.total_seconds(),
            waiting=True,
        )
    settings = isp.settings
    try:
        answer: SmsSent = await sender.send(
            isp.at,
            to=message.phone,
            message=message.body,
            sender_id=settings.at_sender_id if settings else None,
            shortcode=settings.at_shortcode if settings and message.link_id else None,
            link_id=message.link_id,
        )
    except SmsUnavailable as exc:
        return _unavailable(message, f"Africa's Talking unavailable: {exc}", timings)
    except SmsRefused as exc:
        return Outcome(message.id, MessageStatus.FAILED, error=f"refused: {exc}")
    if answer.accepted and answer.message_id:
        micros, currency = parse_cost(answer.cost)
        return Outcome(
            message.id,
            MessageStatus.SENT,
            provider_id=answer.message_id,
            cost_micros=micros,
            cost_currency=currency,
        )
    reason = f"{answer.status_code} {answer.status}"
    if answer.worth_retrying:
        return _retry(message, reason, timings)
    return Outcome(message.id, MessageStatus.FAILED, error=reason)


async def send_whatsapp(
    message: Message, isp: IspChannels, sender: WhatsAppSender, timings: Timings
) -> Outcome:
    if isp.twilio is None:
        return Outcome(
            message.id, MessageStatus.CANCELLED, error="WhatsApp is not set up", fall_back=True
        )
    last_inbound = isp.windows.get(message.phone)
    within = last_inbound is not None and utcnow() - last_inbound < WHATSAPP_WINDOW
    templates = (isp.settings.whatsapp_templates if isp.settings else None) or {}
    content_sid = None if within else templates.get(message.kind)
    if not within and not content_sid:
        return Outcome(
            message.id,
            MessageStatus.CANCELLED,
            error="outside the 24-hour window, no approved template",
            fall_back=True,
        )
    try:
        answer = await sender.send(
            isp.twilio,
            from_=isp.settings.whatsapp_from,
            to=message.phone,
            body=message.body if within else None,
            content_sid=content_sid,
            content_variables={"1": message.body} if content_sid else None,
            status_callback=isp.status_callback,
        )
    except WhatsAppUnavailable as exc:
        return _unavailable(message, f"Twilio unavailable: {exc}", timings)
    except WhatsAppRefused as exc:
        # (Outside the 24-hour window Twilio accepts and fails the message later, by
        # status callback with 63016: `receipts.apply_whatsapp_status` falls back then.)
        return Outcome(message.id, MessageStatus.FAILED, error=f"refused {exc.code}: {exc}")
    micros, currency = None, None
    if answer.price:
        try:
            micros = abs(int((Decimal(answer.price) * 1_000_000).to_integral_value()))
            currency = (answer.price_unit or "USD")[:3].upper()
        except InvalidOperation:
            pass
    return Outcome(
        message.id,
        MessageStatus.SENT,
        provider_id=answer.sid,
        cost_micros=micros,
        cost_currency=currency,
        template_sid=content_sid,
    )


async def send_one(
    message: Message, isp: IspChannels, clients: Providers, timings: Timings
) -> Outcome:
    try:
        if message.channel is MessageChannel.WHATSAPP:
            return await send_whatsapp(message, isp, clients.whatsapp, timings)
        return await send_sms(message, isp, clients.sms, timings)
    except Exception as exc:  # a bug in a client must not leave the group unwritten
        log.exception("message %s: unexpected error while sending", message.id)
        return _retry(message, f"unexpected error: {type(exc).__name__}: {exc}", timings)


# ------------------------------------------------------------------ writing outcomes


async def record_outcomes(database: Database, schema: str, outcomes: list[Outcome]) -> None:
    """Write a group's outcomes in one transaction. A delivery report that got there first
    (and settled the message) is kept: the status only moves forward."""
    if not outcomes:
        return
    async with database.tenant_session(schema) as session, session.begin():
        by_id = {o.message_id: o for o in outcomes}
        messages = await session.scalars(
            select(Message)
            .where(Message.id.in_(list(by_id)))
            .order_by(Message.id)
            .with_for_update()
        )
        now = utcnow()
        for message in messages:
            outcome = by_id[message.id]
            unsettled = message.status in (MessageStatus.SENDING, MessageStatus.IN_DOUBT)
            message.claimed_until = None
            if outcome.status is MessageStatus.SENT:
                # The provider's answer is the truth (a report may have settled this
                # message by its phone before the answer was written down).
                message.provider_id = outcome.provider_id or message.provider_id
                message.cost_micros = outcome.cost_micros
                message.cost_currency = outcome.cost_currency
                message.template_sid = outcome.template_sid
                message.sent_at = message.sent_at or now
                if message.status not in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
                    message.last_error = None  # else a report's reason, come first: kept
                if unsettled:
                    message.status = MessageStatus.SENT
                continue
            if not unsettled:
                continue  # settled meanwhile by a report: it went
            message.last_error = outcome.error and outcome.error[:2000]
            message.status = outcome.status
            if outcome.waiting:
                message.attempts = max(0, message.attempts - 1)
            if outcome.retry_after is not None:
                message.send_after = now + timedelta(seconds=outcome.retry_after)
            if outcome.fall_back:
                await fall_back_to_sms(session, message, cancel=True, reason=outcome.error)


# ------------------------------------------------------------------ the drain


@dataclass
class DrainResult:
    claimed: int = 0
    sent: int = 0
    # Another drain of this ISP was at work (it looks again before it stops).
    busy: bool = False
    # How long that drain's hold lasts at most (seconds), when busy.
    busy_for: float = 0.0


def drain_lock(redis: ArqRedis, tenant_slug: str, timings: Timings):
    """One drain at a time per ISP, across workers: what it claims is what it sends."""
    return redis.lock(
        f"kiunga:messages:drain:{tenant_slug}", timeout=timings.lock_hold, thread_local=False
    )


async def drain(
    database: Database,
    redis: ArqRedis,
    tenant: TenantRef,
    *,
    clients: Providers | None = None,
    timings: Timings | None = None,
    budget: float = DRAIN_BUDGET,
) -> DrainResult:
    """Send the ISP's due messages until none is left (or the budget is spent)."""
    clients = clients or providers()
    timings = timings or Timings.from_environment()
    lock = drain_lock(redis, tenant.slug, timings)
    if not await lock.acquire(blocking=False):
        left = await redis.pttl(lock.name)
        return DrainResult(busy=True, busy_for=max(left, 0) / 1000)
    try:
        return await _drain_holding(database, redis, tenant, lock, clients, timings, budget)
    finally:
        with contextlib.suppress(LockError):
            await lock.release()


async def _drain_holding(
    database: Database,
    redis: ArqRedis,
    tenant: TenantRef,
    lock: Any,
    clients: Providers,
    timings: Timings,
    budget: float,
) -> DrainResult:
    unsent = Unsent(redis, tenant.slug, timings)
    await settle_lapsed_claims(database, tenant.schema, timings, unsent)
    isp = await _load_channels(database, tenant.schema)
    await park_waiting_sms(database, tenant.schema, isp)
    rate = SendRate(redis, tenant.slug, isp.rate)
    limit = asyncio.Semaphore(min(MAX_CONCURRENCY, max(1, isp.rate)))
    result = DrainResult()
    in_flight: set[asyncio.Task[None]] = set()
    held: set[int] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget

    async def send_group(group: list[Message]) -> None:
        whatsapp = [m.phone for m in group if m.channel is MessageChannel.WHATSAPP]
        if whatsapp:
            isp.windows.update(await _load_windows(database, tenant.schema, whatsapp))

        async def one(message: Message) -> Outcome | None:
            async with limit:
                try:
                    mine = await unsent.take([message.id])
                except Exception as exc:  # Redis: not handed over; the lease settles it
                    log.warning("message %s: could not mark it handed over: %s", message.id, exc)
                    return None
                if not mine:
                    return None  # its claim lapsed and was settled meanwhile: not ours
                return await send_one(message, isp, clients, timings)

        answered = await asyncio.gather(*(one(m) for m in group))
        outcomes = [o for o in answered if o is not None]
        await record_outcomes(database, tenant.schema, outcomes)
        held.difference_update(m.id for m in group)
        result.sent += sum(1 for o in outcomes if o.status is MessageStatus.SENT)

    async def keep_leases() -> None:
        while True:
            await asyncio.sleep(timings.heartbeat)
            try:
                await lock.extend(timings.lock_hold, replace_ttl=True)
                await renew_leases(database, tenant.schema, set(held), timings)
            except Exception as exc:  # the next beat tries again; the lease is long enough
                log.warning("could not renew message leases: %s", exc)

    heartbeat = asyncio.create_task(keep_leases())
    try:
        while loop.time() < deadline:
            allowed = await rate.take(min(rate.per_window, GROUP_SIZE))
            group = await claim(database, tenant.schema, allowed, timings)
            if not group:
                break
            result.claimed += len(group)
            held.update(m.id for m in group)
            await unsent.add([m.id for m in group])
            in_flight.add(asyncio.create_task(send_group(group)))
            if len(in_flight) >= GROUPS_IN_FLIGHT:
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                in_flight -= done
                for finished in done:
                    finished.result()
    finally:
        try:
            if in_flight:
                await asyncio.gather(*in_flight)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
    return result


def drain_job_id(tenant_slug: str, reason: str) -> str:
    return f"messages.drain:{tenant_slug}:{reason}"


async def next_due(database: Database, schema: str) -> datetime | None:
    """When the earliest waiting message (a retry's backoff, a doubt's grace) is due."""
    async with database.tenant_session(schema) as session:
        return await session.scalar(
            select(func.min(Message.send_after)).where(
                Message.direction == Direction.OUT, Message.status.in_(_WAITING)
            )
        )


# Retries due sooner than this get a drain of their own; later ones, the minute's sweep.
FOLLOW_UP_WITHIN = timedelta(seconds=90)


async def _enqueue_drain(ctx: TaskContext, reason: str, defer_by: float | None = None) -> None:
    await enqueue(
        ctx.redis,
        drain_queue,
        ctx.tenant.slug,
        job_id=drain_job_id(ctx.tenant.slug, reason),
        defer_by=defer_by,
    )


@task(name="messages.drain", max_tries=5, backoff=5.0, timeout=DRAIN_SLICE + 120)
async def drain_queue(ctx: TaskContext, tenant_slug: str, *reason: Any) -> int:
    """One slice of draining the ISP's queue, by the one drain of the ISP at work.

    A drain holds the ISP's drain lock (Redis, renewed while it works) and works for at
    most DRAIN_SLICE seconds. When there is work, its successor is queued first (deferred
    by a slice, named by the slice, so every drain of the moment shares one): a worker
    killed mid-drain leaves it in Redis, and the next worker carries on once the dead
    drain's lock and leases lapse, instead of waiting for the arq job's own lapse (the
    longest job timeout of the worker). A drain that finds the lock taken comes back when
    it lapses at the latest. After its slice a drain looks again, having let go of the
    lock: what was queued meanwhile is drained at once, a retry due soon when it is due."""
    timings = Timings.from_environment()
    now = utcnow()
    if await due_count(ctx.database, ctx.tenant.schema):
        slice_number = math.floor(now.timestamp() / DRAIN_SLICE) + 1
        await _enqueue_drain(ctx, f"slice-{slice_number}", defer_by=DRAIN_SLICE)
    result = await drain(ctx.database, ctx.redis, ctx.tenant, timings=timings, budget=DRAIN_SLICE)
    if result.busy:
        back = utcnow().timestamp() + result.busy_for
        await _enqueue_drain(ctx, f"wait-{math.ceil(back)}", defer_by=result.busy_for + 0.1)
        return 0
    if await due_count(ctx.database, ctx.tenant.schema):
        await _enqueue_drain(ctx, f"more-{_short_hash(ctx.job_id)}")
        return result.sent
    due = await next_due(ctx.database, ctx.tenant.schema)
    now = utcnow()
    if due is not None and now < due < now + FOLLOW_UP_WITHIN:
        # Named by the second it is due: drains that see the same retry queue one.
        wait = (due - now).total_seconds()
        await _enqueue_drain(ctx, f"at-{math.ceil(due.timestamp())}", defer_by=wait + 0.05)
    return result.sent


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@on_event(QUEUED_TOPIC, name="messages.wake_sender")
async def wake_sender(ctx: TaskContext, event) -> None:
    """Messages were queued and committed: drain the ISP's queue."""
    await enqueue(
        ctx.redis, drain_queue, ctx.tenant.slug, job_id=drain_job_id(ctx.tenant.slug, event.id)
    )


@periodic("messages.sweep", cron="* * * * *", timeout=DRAIN_BUDGET + 60)
async def sweep_queues(ctx: TaskContext, tenant_slug: str, scheduled_for: datetime) -> int:
    """The safety net: lapsed claims settled, and what waited drained."""
    timings = Timings.from_environment()
    unsent = Unsent(ctx.redis, ctx.tenant.slug, timings)
    await settle_lapsed_claims(ctx.database, ctx.tenant.schema, timings, unsent)
    if not await due_count(ctx.database, ctx.tenant.schema):
        return 0
    return (await drain(ctx.database, ctx.redis, ctx.tenant, timings=timings)).sent


__all__ = [
    "Providers",
    "Timings",
    "drain",
    "drain_queue",
    "parse_cost",
    "sweep_queues",
    "wake_sender",
]
