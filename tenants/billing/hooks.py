"""What other areas do right after a payment, in the payment's own transaction.

Billing never imports the areas that react to money (services restore a suspended service
when the balance covers what is due): they register here. A hook that raises rolls the
payment back with it, so "paid" and "restored" commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from kiunga.tenants.billing.models import Payment

PaymentHook = Callable[[AsyncSession, "Payment"], Awaitable[None]]

_payment_hooks: list[PaymentHook] = []


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
