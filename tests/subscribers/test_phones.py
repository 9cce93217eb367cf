"""Phone numbers as people type them, to E.164."""

import pytest
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone


@pytest.mark.parametrize(
    "typed",
    ["0712345678", "712345678", "254712345678", "+254712345678", "0712 345 678",
     "+254 (712) 345-678", "00254712345678"],
)  # fmt: skip
def test_kenyan_mobile_forms(typed):
    assert normalise_phone(typed) == "+254712345678"


def test_new_ranges_and_other_countries():
    assert normalise_phone("0110345678") == "+254110345678"
    assert normalise_phone("+255712345678") == "+255712345678"
    assert normalise_phone("020 2222222") == "+254202222222"


@pytest.mark.parametrize("typed", ["", "0712", "07123456789", "call me", "12", "0109123456"])
def test_refused(typed):
    with pytest.raises(InvalidPhone):
        normalise_phone(typed)
