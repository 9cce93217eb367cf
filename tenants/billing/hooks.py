"""What other areas do right after a payment, in the payment's own transaction.

Billing never imports the areas that react to money (services restore a suspended service
when the balance covers what is due): they register here. A hook that raises rolls the
payment back with it, so "paid" and "restored" commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kiunga.tenants.billing.models import Payment

PaymentHook = Callable[[AsyncSession, "Payment"], Awaitable[None]]
# Facts other areas add to the payment.received event (a service's new expiry), read after
# every hook has run.
PaymentFacts = Callable[[AsyncSession, "Payment"], Awaitable[dict[str, Any]]]

_payment_hooks: list[PaymentHook] = []
_payment_facts: list[PaymentFacts] = []


def register_payment_hook(hook: PaymentHook) -> PaymentHook:
    """Register `hook(session, payment)`; usable as a decorator; registering twice is once."""
    if hook not in _payment_hooks:
        _payment_hooks.append(hook)
    return hook


def unregister_payment_hook(hook: PaymentHook) -> None:
    if hook in _payment_hooks:
        _payment_hooks.remove(hook)


async def run_payment_hooks(session: AsyncSession, payment: Payment) -> None:
    for hook in list(_payment_hooks):
        await hook(session, payment)


def register_payment_facts(provider: PaymentFacts) -> PaymentFacts:
    """Register `provider(session, payment) -> dict` for the payment.received payload."""
    if provider not in _payment_facts:
        _payment_facts.append(provider)
    return provider


async def payment_facts(session: AsyncSession, payment: Payment) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for provider in list(_payment_facts):
        facts.update(await provider(session, payment))
    return facts
