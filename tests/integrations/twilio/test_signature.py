"""X-Twilio-Signature checked with twilio's own RequestValidator, over the URL Twilio used:
the right token and fields pass; a wrong token, a changed or added field, another URL fail;
behind a proxy, the public URL is rebuilt from KIUNGA_PUBLIC_URL and the request's path."""

from __future__ import annotations

import pytest
from kiunga.integrations.twilio.signature import (
    public_request_url,
    sign,
    signature_valid,
)
from twilio.request_validator import RequestValidator

TOKEN = "12345678901234567890123456789012"
URL = "https://isp.kiunga.example/hooks/channels/tok_abc/whatsapp?attempt=1"
FORM = {
    "From": "whatsapp:+254712345678",
    "To": "whatsapp:+14155238886",
    "Body": "Habari *500* 🙏",
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "NumMedia": "0",
}


def twilios_signature(url: str = URL, form: dict | None = None, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form if form is not None else FORM)


def test_twilios_signature_is_valid():
    assert signature_valid(TOKEN, URL, FORM, twilios_signature())
    assert signature_valid(TOKEN, URL, list(FORM.items()), twilios_signature())


def test_sign_is_twilios_algorithm():
    assert sign(TOKEN, URL, FORM) == twilios_signature()


def test_a_signature_with_another_token_is_not_valid():
    forged = twilios_signature(token="00000000000000000000000000000000")
    assert not signature_valid(TOKEN, URL, FORM, forged)


@pytest.mark.parametrize(
    "changed",
    [
        {**FORM, "Body": "Habari *5000* 🙏"},
        {**FORM, "From": "whatsapp:+254700000000"},
        {**FORM, "Extra": "1"},
        {k: v for k, v in FORM.items() if k != "NumMedia"},
    ],
)
def test_a_changed_form_is_not_valid(changed):
    assert not signature_valid(TOKEN, URL, changed, twilios_signature())


@pytest.mark.parametrize(
    "other_url",
    [
        "http://isp.kiunga.example/hooks/channels/tok_abc/whatsapp?attempt=1",
        "https://isp.kiunga.example/hooks/channels/tok_abc/whatsapp",
        "https://isp.kiunga.example/hooks/channels/tok_xyz/whatsapp?attempt=1",
        "http://127.0.0.1:8000/hooks/channels/tok_abc/whatsapp?attempt=1",
    ],
)
def test_a_signature_over_another_url_is_not_valid(other_url):
    assert not signature_valid(TOKEN, other_url, FORM, twilios_signature())


@pytest.mark.parametrize("signature", [None, "", "x" * 500, "not-base64"])
def test_no_or_garbage_signature_is_not_valid(signature):
    assert not signature_valid(TOKEN, URL, FORM, signature)


def test_no_token_validates_nothing():
    assert not signature_valid("", URL, FORM, twilios_signature(token=""))


def test_behind_a_proxy_the_public_url_is_rebuilt():
    """Twilio called https://isp.kiunga.example/…; the app behind the proxy sees
    http://127.0.0.1:8000/… with the same path and query."""
    seen_path, seen_query = "/hooks/channels/tok_abc/whatsapp", "attempt=1"
    rebuilt = public_request_url("https://isp.kiunga.example", seen_path, seen_query)
    assert rebuilt == URL
    assert signature_valid(TOKEN, rebuilt, FORM, twilios_signature())
    internal = f"http://127.0.0.1:8000{seen_path}?{seen_query}"
    assert not signature_valid(TOKEN, internal, FORM, twilios_signature())


def test_behind_a_proxy_with_a_path_prefix():
    public = "https://example.com/kiunga/hooks/channels/tok_abc/whatsapp"
    rebuilt = public_request_url("https://example.com/kiunga/", "/hooks/channels/tok_abc/whatsapp")
    assert rebuilt == public
    assert signature_valid(TOKEN, rebuilt, FORM, twilios_signature(public))


def test_a_public_url_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        public_request_url("isp.kiunga.example", "/hooks")
