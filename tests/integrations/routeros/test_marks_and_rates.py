"""The comment mark and the rate-limit notation, on their own."""

from __future__ import annotations

import pytest
from kiunga.integrations.routeros.marks import Mark, mark, ours, parse_mark
from kiunga.integrations.routeros.rates import RateLimit, bits_per_second


def test_a_mark_names_tenant_and_key_and_reads_back():
    comment = mark("acme-net", "secret:4711")
    assert comment == "kiunga:acme-net:secret:4711"
    assert parse_mark(comment) == Mark("acme-net", "secret:4711")
    assert ours(comment) and ours(comment, "acme-net")
    assert not ours(comment, "other-isp")


@pytest.mark.parametrize(
    "comment", [None, "", "office printer", "kiunga:", "kiunga:acme", "kiunga::x", "KIUNGA:a:b", 42]
)
def test_anything_else_is_not_ours(comment):
    assert parse_mark(comment) is None
    assert not ours(comment)


def test_marks_refuse_what_would_not_read_back():
    with pytest.raises(ValueError):
        mark("Acme Net", "x")
    with pytest.raises(ValueError):
        mark("acme", "")
    with pytest.raises(ValueError):
        mark("acme", "two\nlines")


def test_rate_limits_are_upload_then_download():
    rate = RateLimit.parse("5M/10M")
    assert (rate.upload, rate.download) == ("5M", "10M")
    assert (rate.upload_bps, rate.download_bps) == (5_000_000, 10_000_000)
    assert str(rate) == "5M/10M"
    assert str(RateLimit.parse("512k")) == "512k/512k"
    assert bits_per_second("1.5M") == 1_500_000
    for wrong in ("fast", "5M/10X", "/"):
        with pytest.raises(ValueError):
            RateLimit.parse(wrong)
