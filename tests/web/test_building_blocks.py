"""The small parts of the web shell, on their own: caches, throttle, hosts, keys, sessions."""

import pytest
from kiunga.platform.auth.api_keys import (
    ApiKeyError,
    hash_secret,
    parse_token,
    validate_key_request,
)
from kiunga.platform.auth.sessions import (
    MAX_SESSION_AGE_SECONDS,
    SessionIdentity,
    session_identity,
)
from kiunga.platform.web.cache import ABSENT, TtlCache
from kiunga.platform.web.console.rendering import safe_next
from kiunga.platform.web.tenancy import normalise_host


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_cache_forgets_after_its_ttl_and_keeps_misses():
    clock = Clock()
    cache = TtlCache(30, clock=clock)
    cache.set("a.kiunga.test", "tenant")
    cache.set("nobody.example", None)  # a miss is remembered too
    assert cache.get("a.kiunga.test") == "tenant"
    assert cache.get("nobody.example") is None
    assert cache.get("other") is ABSENT
    clock.now += 30
    assert cache.get("a.kiunga.test") is ABSENT
    assert len(cache) == 1


def test_cache_stays_bounded_and_a_zero_ttl_disables_it():
    cache = TtlCache(30, max_entries=10)
    for i in range(100):
        cache.set(i, i)
    assert len(cache) <= 10 and cache.get(99) == 99
    disabled = TtlCache(0)
    disabled.set("k", "v")
    assert disabled.get("k") is ABSENT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ISP-1.Kiunga.Test:8000", "isp-1.kiunga.test"),
        ("wifi.example.co.ke.", "wifi.example.co.ke"),
        ("kiunga.test", "kiunga.test"),
        ("", None),
        (None, None),
        ("[::1]:8000", None),
        ("bad host", None),
        ("under_score.kiunga.test", None),
        ("-lead.kiunga.test", None),
    ],
)
def test_host_normalisation(raw, expected):
    assert normalise_host(raw) == expected


def test_keys_parse_strictly_and_hash_with_the_secret_key():
    assert parse_token("kg_0123abcd_" + "s" * 43) == ("0123abcd", "s" * 43)
    for bad in (
        "",
        "kg_0123abcd",
        "kg_XYZ_" + "s" * 43,
        "xx_0123abcd_" + "s" * 43,
        "kg_0123abcd_short",
    ):
        assert parse_token(bad) is None
    first = hash_secret("k" * 40, "0123abcd", "secret")
    assert len(first) == 64 and "secret" not in first
    assert hash_secret("j" * 40, "0123abcd", "secret") != first  # keyed
    assert hash_secret("k" * 40, "0123abcf", "secret") != first  # bound to the prefix


def test_key_scopes_must_fit_the_kind_of_key():
    assert validate_key_request(" r ", ["sites:read", "sites:read"], 1) == ("r", ("sites:read",))
    with pytest.raises(ApiKeyError) as platform_scope:
        validate_key_request("", ["platform:tenants"], 1)
    assert platform_scope.value.field == "scopes"
    with pytest.raises(ApiKeyError):
        validate_key_request("", ["sites:read"], None)
    with pytest.raises(ApiKeyError):
        validate_key_request("", [], 1)


def test_session_identity_wants_well_formed_recent_content():
    now = 2_000_000_000
    fresh = {"staff_id": 4, "tenant_id": 9, "signed_in_at": now - 60, "generation": 2}
    assert session_identity(fresh, now) == SessionIdentity(4, 9, 2)
    assert session_identity({**fresh, "tenant_id": None}, now) == SessionIdentity(4, None, 2)
    old = {**fresh, "signed_in_at": now - MAX_SESSION_AGE_SECONDS - 1}
    # A cookie from before session generations names none: it is not current.
    ungenerated = {key: value for key, value in fresh.items() if key != "generation"}
    for data in (
        None,
        {},
        old,
        ungenerated,
        {**fresh, "staff_id": "4"},
        {"staff_id": 4, "tenant_id": 9},
    ):
        assert session_identity(data, now) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/sites", "/sites"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        ("", "/"),
    ],
)
def test_after_sign_in_only_local_paths(target, expected):
    assert safe_next(target) == expected
