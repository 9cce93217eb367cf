"""Rate limits in MikroTik form and package periods by the calendar."""

from datetime import UTC, datetime

import pytest
from kiunga.tenants.catalog.models import Package, ValidityUnit
from kiunga.tenants.catalog.periods import add_validity
from kiunga.tenants.catalog.rates import InvalidRateLimit, RatePair, parse_rate_limit
from kiunga.tenants.catalog.service import period_end


def test_simple_rate_is_upload_then_download():
    limit = parse_rate_limit("5M/10M")
    assert limit.rate == RatePair(upload=5_000_000, download=10_000_000)
    assert limit.burst_rate is None


def test_kilobits_and_full_burst_form():
    limit = parse_rate_limit("512k/1M")
    assert limit.rate == RatePair(512_000, 1_000_000)
    full = parse_rate_limit("5M/10M 8M/15M 4M/8M 16/16")
    assert full.burst_rate == RatePair(8_000_000, 15_000_000)
    assert full.burst_threshold == RatePair(4_000_000, 8_000_000)
    assert full.burst_time == RatePair(16, 16)
    assert parse_rate_limit("5M/10M 8M/15M 4M/8M 16/16 8 1M/2M").priority == 8


@pytest.mark.parametrize(
    "bad",
    ["", "fast", "5X/10M", "5M/10M/20M", "0/10M", "5M/10M 8M/15M", "5M/10M 8M/15M 4M/8M x/16",
     "5M/10M 8M/15M 4M/8M 16/16 9", "5M/"],
)  # fmt: skip
def test_malformed_rate_limits_are_refused(bad):
    with pytest.raises(InvalidRateLimit):
        parse_rate_limit(bad)


def at(*parts):
    return datetime(*parts, tzinfo=UTC)


def test_months_follow_the_calendar():
    assert add_validity(at(2026, 1, 31), 1, ValidityUnit.MONTH) == at(2026, 2, 28)
    assert add_validity(at(2028, 1, 31), 1, "month") == at(2028, 2, 29)
    assert add_validity(at(2026, 3, 15, 10, 30), 1, "month") == at(2026, 4, 15, 10, 30)
    assert add_validity(at(2026, 11, 30), 3, "month") == at(2027, 2, 28)
    assert add_validity(at(2026, 1, 31), 2, "month") == at(2026, 3, 31)


def test_fixed_units():
    start = at(2026, 5, 1, 12)
    assert add_validity(start, 1, "hour") == at(2026, 5, 1, 13)
    assert add_validity(start, 30, "minute") == at(2026, 5, 1, 12, 30)
    assert add_validity(start, 2, "week") == at(2026, 5, 15, 12)
    assert add_validity(start, 3, "day") == at(2026, 5, 4, 12)


def test_period_end_of_a_package():
    package = Package(validity_count=1, validity_unit=ValidityUnit.MONTH)
    assert period_end(package, at(2026, 1, 31, 8)) == at(2026, 2, 28, 8)
