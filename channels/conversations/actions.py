"""What a conversation does after its turn: the STK push of a payment or a voucher.

A phone cannot show an M-Pesa prompt while a USSD session is open, and Daraja is far too
slow for a USSD hop. So the final screen only asks (`ctx.later`); the turn's transaction
emits a `conversation.later` event with it (committed with the turn, or not at all); the
worker's handler queues the push a couple of seconds later, when the session has closed,
under a job id made from the event (queued twice, run once). The task claims the event's
key in `channel_callbacks` in its own committed transaction before it calls Daraja:
whatever retries happen, a subscriber gets one prompt per confirmation, never two.
"""

from __future__ import annotations

from typing import Any

import structlog
from kiunga.channels.conversations.engine import Later
from kiunga.channels.conversations.texts import language_or_default, translate
from kiunga.channels.messages.models import ChannelCallback, MessageChannel
from kiunga.channels.messages.outbound import queue_message
from kiunga.channels.selfservice import payments, vouchers
from kiunga.channels.selfservice.accounts import payment_instructions
from kiunga.platform.db.engine import Database
from kiunga.platform.errors import DomainError
from kiunga.platform.jobs.outbox import OutboxEvent, emit
from kiunga.platform.jobs.queue import enqueue
from kiunga.platform.jobs.registry import on_event, task
from kiunga.platform.money import format_money
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import func

log = structlog.get_logger("kiunga.conversations")

TOPIC = "conversation.later"
CLAIM_KIND = "conversation.later"
# After the END screen: the network closes the session, then the phone can show a prompt.
USSD_DELAY_SECONDS = 3.0
CHAT_DELAY_SECONDS = 0.0


async def emit_later(
    session: AsyncSession, deferred: list[Later], *, key: str, channel: str
) -> None:
    """In the turn's transaction: one event per thing asked for, keyed by the turn."""
    for number, later in enumerate(deferred):
        await emit(
            session,
            TOPIC,
            {
                "kind": later.kind,
                "facts": later.facts,
                "key": f"{key}:{number}"[:200],
                "channel": channel,
            },
        )


@on_event(TOPIC, name="conversations.schedule_later")
async def schedule_later(ctx, event: OutboxEvent) -> None:
    delay = USSD_DELAY_SECONDS if event.payload.get("channel") == "ussd" else CHAT_DELAY_SECONDS
    await enqueue(ctx.redis, run_later, ctx.tenant, event.id, defer_by=delay or None)


async def claim(database: Database, schema: str, key: str, facts: dict[str, Any]) -> int | None:
    """The claim's id when this key was not claimed before (committed at once)."""
    async with database.tenant_session(schema) as session, session.begin():
        return await session.scalar(
            insert(ChannelCallback)
            .values(kind=CLAIM_KIND, provider_key=key, raw_body=str(facts)[:2000])
            .on_conflict_do_nothing(constraint="uq_channel_callbacks_key")
            .returning(ChannelCallback.id)
        )


async def _note(database: Database, schema: str, claim_id: int, answer: str, error: str | None):
    async with database.tenant_session(schema) as session, session.begin():
        await session.execute(
            update(ChannelCallback)
            .where(ChannelCallback.id == claim_id)
            .values(answer=answer[:500], error=error and error[:2000], processed_at=func.now())
        )


async def perform(database: Database, schema: str, payload: dict[str, Any]) -> str:
    """Do one asked-for thing, once per key; what came of it."""
    kind, facts, key = payload.get("kind"), payload.get("facts") or {}, str(payload.get("key"))
    claim_id = await claim(database, schema, key, facts)
    if claim_id is None:
        return "done before"
    channel = str(payload.get("channel") or "ussd")
    try:
        if kind == "pay":
            request_id = await payments.ask_payment(
                database,
                schema,
                subscriber_id=int(facts["subscriber_id"]),
                phone=str(facts["phone"]),
                amount=int(facts["amount"]),
                channel=channel,
            )
            outcome = f"mpesa request {request_id}"
        elif kind == "voucher":
            purchase = await vouchers.buy_voucher(
                database,
                schema,
                phone=str(facts["phone"]),
                package_id=int(facts["package_id"]),
                language=facts.get("language"),
            )
            outcome = f"hotspot purchase {purchase.id}"
        else:
            outcome = f"nothing: unknown kind {kind!r}"
    except DomainError as error:
        # Refused (a prompt already waiting, Daraja down): the subscriber is told on their
        # channel, with the paybill that always works; staff see the reason here.
        log.warning(
            "conversation action refused", kind=kind, field=error.field, error=error.message
        )
        await _note(database, schema, claim_id, "refused", f"{error.field}: {error.message}")
        await tell_refused(database, schema, payload)
        return "refused"
    await _note(database, schema, claim_id, outcome, None)
    return outcome


async def tell_refused(database: Database, schema: str, payload: dict[str, Any]) -> None:
    """An SMS (or WhatsApp message) saying the prompt could not be sent, and how to pay."""
    facts = payload.get("facts") or {}
    language = language_or_default(facts.get("language"))
    channel = (
        MessageChannel.WHATSAPP if payload.get("channel") == "whatsapp" else MessageChannel.SMS
    )
    subscriber_id = facts.get("subscriber_id")
    async with database.tenant_session(schema) as session, session.begin():
        body = translate(language, "later.voucher_failed")
        if payload.get("kind") == "pay" and isinstance(subscriber_id, int):
            try:
                how = await payment_instructions(session, subscriber_id)
            except DomainError:
                body = translate(language, "later.pay_failed_call")
            else:
                key = "later.pay_failed" if how.method == "paybill" else "later.pay_failed_till"
                amount = format_money(int(facts.get("amount") or 0), how.currency, short=True)
                body = translate(
                    language,
                    key,
                    paybill=how.business_number,
                    till=how.business_number,
                    account=how.account_number,
                    amount=amount,
                )
        await queue_message(
            session,
            phone=str(facts.get("phone")),
            body=body,
            kind="reply",
            channel=channel,
            subscriber_id=subscriber_id if isinstance(subscriber_id, int) else None,
            urgent=True,
            dedupe_key=f"refused:{payload.get('key')}"[:120],
            language=language,
        )


@task(name="conversations.run_later", max_tries=1, timeout=120)
async def run_later(ctx, tenant_slug: str, event_id: int) -> str:
    event = await ctx.session.get(OutboxEvent, event_id)
    if event is None or event.topic != TOPIC:
        return "no such event"
    return await perform(ctx.database, ctx.tenant.schema, dict(event.payload))
