"""Notifications: the other areas' events, told to the subscriber.

Each handler reads the present state, renders the kind's template (the ISP's wording, else
the catalogue's) in the subscriber's language, and queues the message in the handler's own
transaction with a dedupe key made from the event (`<kind>:e<event id>`, or the service's
period for reminders), so an event handled twice queues one message.

- payment.received → receipt (urgent), except for a hotspot purchase, whose voucher code
  message is the receipt;
- reminder.due_soon / reminder.overdue → due_soon / overdue. The lifecycle's periodic run
  already finds these, once per service and period (Service.due_soon_reminded_for,
  overdue_reminded_for), and emits the events: a second periodic scan here would only race
  it. The dedupe key is the service and its period's end;
- service.suspended / restored / activated / expired;
- voucher.issued → the code, to the phone that paid (the portal shows it and queues
  nothing itself);
- ticket.opened → an acknowledgement with the number, except for tickets opened by SMS or
  WhatsApp, whose conversation answers with the number itself;
- ticket.updated → a staff reply, or a status change, on the channel the ticket came from.

News can go stale twice: before the handler runs (STILL_TRUE: nothing is queued) and while
the message waits to be sent (quiet hours, a provider down): `no_longer_true` looks again
just before sending, and the sender cancels what no longer holds (holds.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from kiunga.channels.messages.models import Message, MessageChannel
from kiunga.channels.messages.outbound import preferred_language, queue_message
from kiunga.channels.messages.templates import local_date, render, status_word
from kiunga.platform.db.base import utcnow
from kiunga.platform.jobs.execution import TaskContext
from kiunga.platform.jobs.outbox import OutboxEvent
from kiunga.platform.jobs.registry import on_event
from kiunga.platform.money import format_money
from kiunga.tenants.billing.invoices import amount_due, open_amount
from kiunga.tenants.billing.ledger import balance, tenant_currency
from kiunga.tenants.catalog.models import BillingType, Package
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber
from kiunga.tenants.tickets.models import AuthorKind, Channel, Ticket, TicketMessage
from kiunga.tenants.vouchers.models import VoucherSale
from kiunga.tenants.zones import tenant_zone
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

TICKET_CHANNELS = {
    Channel.SMS: MessageChannel.SMS,
    Channel.WHATSAPP: MessageChannel.WHATSAPP,
    # A USSD screen is gone once the session ends: what follows comes by SMS.
    Channel.USSD: MessageChannel.SMS,
}


async def notify_subscriber(
    session: AsyncSession,
    subscriber_id: int | None,
    kind: str,
    values: dict[str, Any],
    *,
    dedupe_key: str,
    urgent: bool,
    phone: str | None = None,
    channel: MessageChannel | None = None,
    language: str | None = None,
    ticket_id: int | None = None,
) -> Message | None:
    """Render `kind` for the subscriber and queue it (to `phone`, else their first phone).
    None when there is nobody to tell, or it was queued before."""
    subscriber = await session.get(Subscriber, subscriber_id) if subscriber_id else None
    phone = phone or (subscriber.primary_phone if subscriber else None)
    if not phone:
        return None
    language = language or await preferred_language(session, phone, subscriber_id)
    common = {
        "name": subscriber.name.split()[0] if subscriber and subscriber.name.strip() else "",
        "account": subscriber.account_number if subscriber else "",
    }
    body = await render(session, kind, language, {**common, **values})
    return await queue_message(
        session,
        phone=phone,
        body=body,
        kind=kind,
        channel=channel,
        subscriber_id=subscriber.id if subscriber else None,
        urgent=urgent,
        dedupe_key=dedupe_key,
        language=language,
        ticket_id=ticket_id,
    )


def _key(kind: str, event: OutboxEvent) -> str:
    return f"{kind}:e{event.id}"


# ------------------------------------------------------------------ payments


@on_event("payment.received", name="messages.notify_payment")
async def notify_payment(ctx: TaskContext, event: OutboxEvent) -> None:
    session, facts = ctx.session, event.payload
    payment_id = facts.get("payment_id")
    sold = await session.scalar(select(VoucherSale.id).where(VoucherSale.payment_id == payment_id))
    if sold is not None:
        return  # a hotspot purchase: the voucher code message is its receipt
    currency = facts.get("currency") or await tenant_currency(session)
    await notify_subscriber(
        session,
        facts.get("subscriber_id"),
        "receipt",
        {
            "amount": format_money(int(facts.get("amount") or 0), currency),
            # The M-Pesa receipt code is what the subscriber recognises (it is on their own
            # M-Pesa SMS); the ISP's receipt number where there is none (cash).
            "receipt": facts.get("reference") or facts.get("receipt_number") or "",
            "balance": format_money(int(facts.get("balance") or 0), currency),
        },
        dedupe_key=_key("receipt", event),
        urgent=True,
    )


# ------------------------------------------------------------------ services


async def _service_values(session: AsyncSession, service_id: int) -> dict[str, Any] | None:
    service = await session.get(Service, service_id)
    if service is None:
        return None
    package = await session.get(Package, service.package_id)
    zone = await tenant_zone(session)
    due = await amount_due(session, service.subscriber_id, as_of=utcnow())
    currency = package.currency if package else await tenant_currency(session)
    return {
        "service": service,
        "package": package.name if package else "",
        "expires": local_date(service.expires_at, zone),
        "price": format_money(package.price, currency) if package else "",
        "amount_due": format_money(due, currency),
    }


# A change of state is told only while it is still true when the handler runs: a
# suspension already lifted, or a welcome to a service that has since expired, would only
# confuse (the later event tells what holds now).
STILL_TRUE = {
    "activated": {ServiceStatus.ACTIVE},
    "restored": {ServiceStatus.ACTIVE},
    "suspended": {ServiceStatus.SUSPENDED},
    "expired": {ServiceStatus.EXPIRED},
}


async def _notify_service(
    ctx: TaskContext, event: OutboxEvent, kind: str, *, urgent: bool, key: str | None = None
) -> None:
    values = await _service_values(ctx.session, int(event.payload["service_id"]))
    if values is None:
        return
    service: Service = values.pop("service")
    if kind in STILL_TRUE and service.status not in STILL_TRUE[kind]:
        return
    if kind == "overdue":
        # What is owed now, not at the period's end.
        values["amount_due"] = format_money(
            max(
                await amount_due(ctx.session, service.subscriber_id, as_of=utcnow()),
                0,
            ),
            await tenant_currency(ctx.session),
        )
    await notify_subscriber(
        ctx.session,
        service.subscriber_id,
        kind,
        values,
        dedupe_key=key or _key(kind, event),
        urgent=urgent,
    )


def _period_key(kind: str, event: OutboxEvent) -> str:
    payload = event.payload
    return f"{kind}:s{payload['service_id']}:{payload.get('expires_at') or 'none'}"


@on_event("reminder.due_soon", name="messages.notify_due_soon")
async def notify_due_soon(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "due_soon", urgent=False, key=_period_key("due_soon", event))


@on_event("reminder.overdue", name="messages.notify_overdue")
async def notify_overdue(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "overdue", urgent=False, key=_period_key("overdue", event))


@on_event("service.suspended", name="messages.notify_suspended")
async def notify_suspended(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "suspended", urgent=False)


@on_event("service.restored", name="messages.notify_restored")
async def notify_restored(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "restored", urgent=True)


@on_event("service.activated", name="messages.notify_activated")
async def notify_activated(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "activated", urgent=True)


@on_event("service.expired", name="messages.notify_expired")
async def notify_expired(ctx: TaskContext, event: OutboxEvent) -> None:
    await _notify_service(ctx, event, "expired", urgent=False)


# ------------------------------------------------------------------ vouchers


@on_event("voucher.issued", name="messages.notify_voucher")
async def notify_voucher(ctx: TaskContext, event: OutboxEvent) -> None:
    facts = event.payload
    phone = facts.get("phone")
    if not phone or not facts.get("code"):
        return  # a voucher printed on a card: nobody to text
    zone = await tenant_zone(ctx.session)
    await notify_subscriber(
        ctx.session,
        facts.get("subscriber_id"),
        "voucher_code",
        {
            "code": facts["code"],
            "package": facts.get("package_name") or "",
            "expires": local_date(facts.get("expires_at"), zone),
        },
        dedupe_key=_key("voucher_code", event),
        urgent=True,
        phone=phone,
        channel=MessageChannel.SMS,
        language=facts.get("language"),
    )


# ------------------------------------------------------------------ tickets


async def _ticket_phone(session: AsyncSession, ticket: Ticket) -> str | None:
    """The phone the subscriber wrote from (their last message's), else None (their
    first phone is used)."""
    label = await session.scalar(
        select(TicketMessage.author_label)
        .where(
            TicketMessage.ticket_id == ticket.id,
            TicketMessage.author_kind == AuthorKind.SUBSCRIBER,
        )
        .order_by(TicketMessage.id.desc())
        .limit(1)
    )
    return label if label and _E164.match(label) else None


async def _notify_ticket(
    ctx: TaskContext, event: OutboxEvent, kind: str, values: dict[str, Any]
) -> None:
    ticket = await ctx.session.get(Ticket, int(event.payload["ticket_id"]))
    if ticket is None or ticket.subscriber_id is None:
        return
    await notify_subscriber(
        ctx.session,
        ticket.subscriber_id,
        kind,
        {"ticket": ticket.reference, "subject": ticket.subject, **values},
        dedupe_key=_key(kind, event),
        urgent=True,
        phone=await _ticket_phone(ctx.session, ticket),
        channel=TICKET_CHANNELS.get(ticket.channel),
        ticket_id=ticket.id,
    )


@on_event("ticket.opened", name="messages.notify_ticket_opened")
async def notify_ticket_opened(ctx: TaskContext, event: OutboxEvent) -> None:
    ticket = await ctx.session.get(Ticket, int(event.payload["ticket_id"]))
    if ticket is None or ticket.channel in (Channel.SMS, Channel.WHATSAPP):
        return  # the conversation that opened it answered with its number
    await _notify_ticket(ctx, event, "ticket_opened", {})


@on_event("ticket.updated", name="messages.notify_ticket_updated")
async def notify_ticket_updated(ctx: TaskContext, event: OutboxEvent) -> None:
    facts = event.payload
    if facts.get("change") == "message" and facts.get("author_kind") == AuthorKind.STAFF.value:
        message = await ctx.session.get(TicketMessage, int(facts["message_id"]))
        if message is not None:
            await _notify_ticket(ctx, event, "ticket_reply", {"reply": message.body})
    elif facts.get("change") == "status" and facts.get("to"):
        ticket = await ctx.session.get(Ticket, int(facts["ticket_id"]))
        if ticket is None or ticket.subscriber_id is None:
            return
        phone = await _ticket_phone(ctx.session, ticket)
        subscriber = await ctx.session.get(Subscriber, ticket.subscriber_id)
        phone = phone or (subscriber.primary_phone if subscriber else None) or ""
        language = await preferred_language(ctx.session, phone, ticket.subscriber_id)
        await _notify_ticket(
            ctx, event, "ticket_status", {"status": status_word(facts["to"], language)}
        )


# ------------------------------------------------------------------ still true when sent


# The kinds whose news can go stale while the message waits in the queue (quiet hours, a
# provider down, the send rate): looked at again just before sending (holds.py).
RECHECKED_KINDS = frozenset({*STILL_TRUE, "due_soon", "overdue"})


async def no_longer_true(
    session: AsyncSession, kind: str, dedupe_key: str | None, *, now: datetime
) -> str | None:
    """Why a queued notification should not go any more, or None while its news holds
    (or when the message is not one of these notifications). Read from its dedupe key:
    `<kind>:e<event id>` for a change of state, `<kind>:s<service id>:<period end>` for a
    reminder. What cannot be told (the event gone) is sent: a missed notice is worse."""
    if kind not in RECHECKED_KINDS or not dedupe_key:
        return None
    head, _, rest = dedupe_key.partition(":")
    if head != kind or not rest:
        return None
    if kind in STILL_TRUE:
        return await _state_gone(session, kind, rest)
    return await _reminder_gone(session, kind, rest, now)


async def _state_gone(session: AsyncSession, kind: str, rest: str) -> str | None:
    if not (rest.startswith("e") and rest[1:].isdigit()):
        return None
    event = await session.get(OutboxEvent, int(rest[1:]))
    service_id = event.payload.get("service_id") if event is not None else None
    if service_id is None:
        return None
    service = await session.get(Service, int(service_id))
    if service is None:
        return "no longer true: the service is gone"
    if service.status not in STILL_TRUE[kind]:
        return f"no longer true: the service is {service.status.value} now"
    return None


async def _reminder_gone(session: AsyncSession, kind: str, rest: str, now: datetime) -> str | None:
    service_part, _, period_end = rest.partition(":")
    if not (service_part.startswith("s") and service_part[1:].isdigit()):
        return None
    service = await session.get(Service, int(service_part[1:]))
    if service is None:
        return "no longer true: the service is gone"
    try:
        reminded_for = None if period_end == "none" else datetime.fromisoformat(period_end)
    except ValueError:
        return None
    if service.expires_at != reminded_for:
        return "no longer true: the service's period changed (renewed, or ended)"
    if kind == "overdue":
        if service.status not in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
            return f"no longer true: the service is {service.status.value} now"
        if await amount_due(session, service.subscriber_id, as_of=now) <= 0:
            return "no longer true: paid meanwhile"
        return None
    if service.status is not ServiceStatus.ACTIVE:
        return f"no longer true: the service is {service.status.value} now"
    package = await session.get(Package, service.package_id)
    if package is not None and package.billing_type is BillingType.POSTPAID:
        paid = await open_amount(session, service.subscriber_id) <= 0
    else:
        # A prepaid service renews from the balance at its end when that covers the price.
        paid = bool(
            package is not None
            and service.auto_renew
            and await balance(session, service.subscriber_id) >= package.price
        )
    return "no longer true: paid meanwhile" if paid else None


HANDLERS = (
    notify_payment,
    notify_due_soon,
    notify_overdue,
    notify_suspended,
    notify_restored,
    notify_activated,
    notify_expired,
    notify_voucher,
    notify_ticket_opened,
    notify_ticket_updated,
)
