"""Money as people read and type it: "KES 1,500.50" on pages, "1500.50" in forms.

Stored amounts are integer minor units; the conversion goes through Decimal, never a float,
and refuses more decimals than the currency has instead of rounding them away.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from kiunga.tenants.billing.errors import BillingError

# ISO 4217 minor units of the currencies our ISPs use; anything else has cents.
MINOR_DIGITS = {"KES": 2, "TZS": 2, "UGX": 0, "RWF": 0, "BIF": 0, "USD": 2, "ETB": 2}


def digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)


def format_money(amount: int | None, currency: str = "KES") -> str:
    if amount is None:
        return ""
    places = digits(currency)
    major = Decimal(amount).scaleb(-places)
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency} {abs(major):,.{places}f}"


def parse_money(text: str, currency: str, field: str = "amount") -> int:
    """ "1,500.50" → 150050 minor units, or a BillingError naming `field`."""
    cleaned = (text or "").replace(",", "").replace(" ", "").strip()
    if cleaned.upper().startswith(currency):
        cleaned = cleaned[len(currency) :]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BillingError(field, f"{field} must be a number like 1500 or 1500.50") from None
    if not value.is_finite():
        raise BillingError(field, f"{field} must be a number like 1500 or 1500.50")
    minor = value.scaleb(digits(currency))
    if minor != minor.to_integral_value():
        raise BillingError(
            field, f"{field} has more than {digits(currency)} decimal places for {currency}"
        )
    if minor <= 0:
        raise BillingError(field, f"{field} must be more than zero")
    return int(minor)
