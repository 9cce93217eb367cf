"""The money kit: what an operator types, in minor units of the ISP's currency, and minor
units as pages show them (ISO 4217: UGX and RWF have no minor unit, KES/TZS/USD have 100)."""

from __future__ import annotations

import pytest
from kiunga.platform.money import MoneyError, format_money, minor_digits, parse_money
from kiunga.platform.web.console.template_filters import percent


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,500", "KES", 150_000),
        ("1500.50", "KES", 150_050),
        ("KES 20", "KES", 2_000),
        ("0.5", "TZS", 50),
        ("12.34", "USD", 1_234),
        ("500", "UGX", 500),
        ("1,500", "UGX", 1_500),
        ("2,000", "RWF", 2_000),
        ("500.00", "UGX", 500),
        ("0", "KES", 0),
    ],
)
def test_typed_amounts_in_minor_units(text, currency, minor):
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "words"),
    [
        ("2,500.555", "KES", "more decimal places than KES allows (at most 2 decimal places)"),
        ("500.5", "UGX", "more decimal places than UGX allows (no decimal places)"),
        ("12.5", "RWF", "no decimal places"),
        ("twenty", "KES", "must be a number like 1500 or 1500.50"),
        ("", "UGX", "must be a number like 500"),
        ("NaN", "KES", "must be a number"),
        ("Infinity", "KES", "must be a number"),
    ],
)
def test_refusals_name_the_field_and_the_currency(text, currency, words):
    with pytest.raises(MoneyError) as refused:
        parse_money(text, currency, "price")
    assert refused.value.field == "price"
    assert words in refused.value.message and refused.value.message.startswith("price ")


def test_positive_refuses_zero_and_less():
    for text in ("0", "-5"):
        with pytest.raises(MoneyError, match="more than zero"):
            parse_money(text, "KES", positive=True)
    assert parse_money("-5", "KES") == -500


def test_minor_digits_by_iso_4217():
    assert [minor_digits(c) for c in ("KES", "TZS", "UGX", "RWF", "USD")] == [2, 2, 0, 0, 2]
    assert minor_digits("kes") == 2 and minor_digits("XYZ") == 2 and minor_digits(None) == 2


def test_formatting_for_pages():
    assert format_money(150_000, "KES") == "KES 1,500.00"
    assert format_money(150_050, "KES") == "KES 1,500.50"
    assert format_money(-5_000, "KES") == "-KES 50.00"
    assert format_money(500, "UGX") == "UGX 500"
    assert format_money(1_500_000, "RWF") == "RWF 1,500,000"
    assert format_money(2_000, "KES", short=True) == "KES 20"
    assert format_money(2_050, "KES", short=True) == "KES 20.50"
    assert format_money(150_000, "KES", code=False) == "1,500.00"
    assert format_money(150_000, "KES", short=True, code=False) == "1,500"
    assert format_money(None, "KES") == ""


def test_what_is_typed_reads_back_the_same():
    for currency, text in (("KES", "1,500.50"), ("UGX", "1,500"), ("USD", "0.99")):
        shown = format_money(parse_money(text, currency), currency)
        assert shown == f"{currency} {text}"


def test_percent_from_basis_points():
    assert [percent(bp) for bp in (1_250, 1_000, 5, 0)] == ["12.5", "10", "0.05", "0"]
