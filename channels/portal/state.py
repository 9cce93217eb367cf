"""What the router told the portal, carried from page to page in a signed token.

Several web workers serve the portal, so nothing lives in one process's memory: the
router's parameters travel in a hidden field (or the `rs` query parameter), signed with a
key of its own and bound to the ISP and a time, so it cannot be altered or moved to
another ISP's portal. Forms carry a second small token against cross-site posts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from kiunga.tenants.services.service import router_mac

STATE_MAX_AGE_SECONDS = 3 * 3600
FORM_MAX_AGE_SECONDS = 3600
_IP = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
_ESCAPED = re.compile(r"^(\\[0-7]{1,3}|[ -~]){0,64}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def router_url(raw: str | None) -> str | None:
    """A link the router gave (link-login-only, link-logout): http(s), no credentials."""
    url = (raw or "").strip()
    if not url or len(url) > 500:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    return url


def page_url(raw: str | None) -> str:
    """Where the user was going (link-orig): kept only when it is a plain web address."""
    url = (raw or "").strip()
    if len(url) > 1000:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


@dataclass(frozen=True, slots=True)
class RouterState:
    """The MikroTik parameters the login needs later. `login_url` (link-login-only) is
    where the portal posts the username and password."""

    mac: str | None
    ip: str | None
    login_url: str
    original_url: str = ""
    chap_id: str = ""
    chap_challenge: str = ""
    logout_url: str = ""

    @property
    def uses_chap(self) -> bool:
        return bool(self.chap_id)

    @classmethod
    def from_router(cls, form) -> RouterState | None:
        """From the router's post (login.html); None when it names no login link."""
        login_url = router_url(form.get("link-login-only")) or router_url(form.get("link-login"))
        if login_url is None:
            return None
        ip = (form.get("ip") or "").strip()
        chap_id = form.get("chap-id") or ""
        chap_challenge = form.get("chap-challenge") or ""
        if not (_ESCAPED.match(chap_id) and _ESCAPED.match(chap_challenge)):
            chap_id = chap_challenge = ""
        return cls(
            mac=router_mac(form.get("mac")),
            ip=ip if _IP.match(ip) else None,
            login_url=login_url,
            original_url=page_url(form.get("link-orig")),
            chap_id=chap_id,
            chap_challenge=chap_challenge,
            logout_url=router_url(form.get("link-logout")) or "",
        )


class Signer:
    """Signs router states and form tokens for one installation's secret."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, purpose: str, tenant_id: int, body: str) -> str:
        message = f"{purpose}|{tenant_id}|{body}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:18])

    def dump_state(self, tenant_id: int, state: RouterState, *, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        body = _b64(json.dumps([issued, asdict(state)], separators=(",", ":")).encode())
        return f"{body}.{self._mac('state', tenant_id, body)}"

    def load_state(
        self, tenant_id: int, token: str | None, *, now: float | None = None
    ) -> RouterState | None:
        """The state in a token this installation signed for this ISP, unless stale."""
        if not token or len(token) > 4000 or "." not in token:
            return None
        body, signature = token.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._mac("state", tenant_id, body)):
            return None
        try:
            issued, fields = json.loads(_unb64(body))
            state = RouterState(**fields)
        except (ValueError, TypeError):
            return None
        if (now if now is not None else time.time()) - issued > STATE_MAX_AGE_SECONDS:
            return None
        return state

    def form_token(self, tenant_id: int, nonce: str, *, now: float | None = None) -> str:
        """The hidden field of a portal form, matched to the browser's portal cookie."""
        issued = str(int(now if now is not None else time.time()))
        return f"{issued}.{self._mac('form', tenant_id, issued + nonce)}"

    def form_token_valid(
        self, tenant_id: int, nonce: str | None, token: str | None, *, now: float | None = None
    ) -> bool:
        if not nonce or not token or "." not in token:
            return False
        issued, signature = token.split(".", 1)
        if not issued.isdigit():
            return False
        if (now if now is not None else time.time()) - int(issued) > FORM_MAX_AGE_SECONDS:
            return False
        return hmac.compare_digest(signature, self._mac("form", tenant_id, issued + nonce))


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
