"""Money as people type and read it, by currency: "1,500" or "1500.50" in a form, "KES 1,500.50"
on a page; stored everywhere as integer minor units.

How many minor units a currency has is ISO 4217's: a shilling of Kenya or Tanzania has 100
cents, a Ugandan shilling or a Rwandan franc has none, so an ISP in Kampala typing 500 means
500 (not 50,000). Conversions go through Decimal, never a float, and a figure with more
decimals than its currency has is refused rather than rounded away.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor units of the currencies our ISPs use; any other currency is taken to have
# cents, as most do.
MINOR_DIGITS = {"KES": 2, "TZS": 2, "UGX": 0, "RWF": 0, "USD": 2, "BIF": 0, "ETB": 2}
DEFAULT_DIGITS = 2


class MoneyError(ValueError):
    """A typed amount that is not one of `currency`'s: `field` names the form's field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def minor_digits(currency: str | None) -> int:
    return MINOR_DIGITS.get((currency or "").upper(), DEFAULT_DIGITS)


def example(currency: str | None) -> str:
    """How an amount of `currency` is typed, for messages: "1500 or 1500.50", "500"."""
    places = minor_digits(currency)
    return "1500 or 1500.50" if places == 2 else ("500" if places == 0 else "1500")


def parse_money(
    text: str | None, currency: str, field: str = "amount", *, positive: bool = False
) -> int:
    """What an operator typed ("1,500", "1500.50", "KES 20") in minor units of `currency`.

    `positive` refuses zero and less (a payment); otherwise the caller's own rules bound it.
    """
    cleaned = (text or "").replace(",", "").replace(" ", "").strip()
    code = (currency or "").upper()
    if code and cleaned.upper().startswith(code):
        cleaned = cleaned[len(code) :]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise MoneyError(field, f"{field} must be a number like {example(currency)}")
    places = minor_digits(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        allowed = "no decimal places" if places == 0 else f"at most {places} decimal places"
        raise MoneyError(field, f"{field} has more decimal places than {code} allows ({allowed})")
    if positive and minor <= 0:
        raise MoneyError(field, f"{field} must be more than zero")
    return int(minor)


def format_money(
    amount: int | None, currency: str, *, short: bool = False, code: bool = True
) -> str:
    """Minor units as a page shows them: "KES 1,500.00", "-KES 50.00", "UGX 500".

    `short` drops a whole amount's zero decimals ("KES 20", but "KES 20.50"), as printed
    cards and the captive portal show prices; `code=False` leaves the currency out (for a
    column whose heading names it). None is shown as nothing.
    """
    if amount is None:
        return ""
    places = minor_digits(currency)
    major = abs(Decimal(amount).scaleb(-places))
    if short and major == major.to_integral_value():
        figure = f"{int(major):,}"
    else:
        figure = f"{major:,.{places}f}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency} {figure}" if code else f"{sign}{figure}"
