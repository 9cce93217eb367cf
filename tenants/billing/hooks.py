"""What other areas do right after a payment, in the payment's own transaction.

Billing never imports the areas that react to money (services restore a suspended service
when the balance covers what is due): they list a hook of kind PAYMENT in their manifest,
and the kernel installs them (see kiunga.platform.hooks). A hook that raises rolls the
payment back with it, so "paid" and "restored" commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from kiunga.platform.hooks import Hook, hooks_for
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kiunga.tenants.billing.models import Payment

PaymentHook = Callable[[AsyncSession, "Payment"], Awaitable[None]]
# Facts other areas add to the payment.received event (a service's new expiry), read after
# every hook has run.
PaymentFacts = Callable[[AsyncSession, "Payment"], Awaitable[dict[str, Any]]]

# `hook(session, payment)`, run in the payment's transaction, in the order of the areas.
PAYMENT = "billing.payment"
# `provider(session, payment) -> dict`, merged into the payment.received payload.
PAYMENT_FACTS = "billing.payment_facts"


def payment_hook(hook: PaymentHook) -> Hook:
    """A manifest's entry: run `hook(session, payment)` after each new payment."""
    return Hook(PAYMENT, hook)


def payment_facts_provider(provider: PaymentFacts) -> Hook:
    """A manifest's entry: add `provider(session, payment)`'s dict to payment.received."""
    return Hook(PAYMENT_FACTS, provider)


async def run_payment_hooks(session: AsyncSession, payment: Payment) -> None:
    for hook in hooks_for(PAYMENT):
        await hook(session, payment)


async def payment_facts(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for provider in hooks_for(PAYMENT_FACTS):
        facts.update(await provider(session, payment))
    return facts
