"""Money as billing's pages read and type it, through the platform's money kit; a typed
amount the kit refuses is a BillingError naming the form's field."""

from __future__ import annotations

from kiunga.platform.money import MoneyError, format_money, minor_digits
from kiunga.platform.money import parse_money as _parse_money
from kiunga.tenants.billing.errors import BillingError

__all__ = ["digits", "format_money", "parse_money"]

digits = minor_digits


def parse_money(text: str, currency: str, field: str = "amount") -> int:
    """ "1,500.50" → 150050 minor units (more than zero), or a BillingError naming `field`."""
    try:
        return _parse_money(text, currency, field, positive=True)
    except MoneyError as exc:
        raise BillingError(exc.field, exc.message) from None
