"""`X-Twilio-Signature`: Twilio signs every webhook with the account's auth token, over the
exact URL it requested and the POSTed form fields. Checked with twilio's own
`RequestValidator`, never a copy of its algorithm.

The URL is the one Twilio used, which behind a proxy or load balancer is not the one the app
sees (http vs https, an internal host or port, a path prefix the proxy strips): it is built
from the public base URL the webhooks were registered with (KIUNGA_PUBLIC_URL) and the path
and query of the request (`public_request_url`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_SIGNATURE = 200


class _Params:
    """The form's fields with every value of a repeated one (what RequestValidator reads
    through `getlist`, as from Django's QueryDict)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def __iter__(self):
        return iter(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def getlist(self, name: str) -> list[str]:
        return self._values[name]


def _pairs(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        return [(str(name), str(value)) for name, value in params.items()]
    return [(str(name), str(value)) for name, value in params]


def public_request_url(public_base_url: str, path: str, query: str = "") -> str:
    """The URL Twilio requested: the public base (scheme, host, any path prefix the proxy
    strips) and the request's own path and query string, as they arrived."""
    base = urlsplit(public_base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"not an http(s) base URL: {public_base_url!r}")
    url = public_base_url.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


def sign(auth_token: str, url: str, params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a webhook to `url` with these form fields."""
    return RequestValidator(auth_token).compute_signature(url, _Params(_pairs(params)))


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    signature: str | None,
) -> bool:
    """Whether `signature` (the X-Twilio-Signature header) is Twilio's for this URL and these
    form fields. A missing or oversized signature is simply not valid."""
    if not signature or len(signature) > MAX_SIGNATURE or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, _Params(_pairs(params)), signature)
