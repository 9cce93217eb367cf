"""The tenant's M-Pesa settings: read, changed (secrets write-only), and the callback token.

The token is the only thing that tells Daraja's callbacks which ISP they are for: its hash
lives in platform.webhook_routes (one row per tenant), the token itself encrypted in the
tenant's settings so the console can show the URLs to give Safaricom.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from kiunga.platform.settings import get_settings
from kiunga.platform.webhook_routes import route_new_token
from kiunga.tenants.mpesa import secrets
from kiunga.tenants.mpesa.errors import MpesaError
from kiunga.tenants.mpesa.models import DarajaEnvironment, MpesaSettings, ShortcodeType
from sqlalchemy.ext.asyncio import AsyncSession

PROVIDER = "mpesa"
HOOK_PREFIX = "/hooks/daraja"
BASE_URLS = {
    DarajaEnvironment.SANDBOX: "https://sandbox.safaricom.co.ke",
    DarajaEnvironment.PRODUCTION: "https://api.safaricom.co.ke",
}
# In production the consumer key and secret go to Safaricom and nowhere else; the emulator's
# own address is for development and tests only.
DARAJA_HOSTS = frozenset(urlsplit(url).hostname for url in BASE_URLS.values())
SECRET_FIELDS = ("consumer_key", "consumer_secret", "passkey", "security_credential")
_SHORTCODE = re.compile(r"^\d{5,10}$")
_MAX_SECRET = 2000


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """None leaves a value as it is; secrets are only ever written, never read back."""

    environment: str | None = None
    base_url: str | None = None
    shortcode_type: str | None = None
    shortcode: str | None = None
    till_number: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    passkey: str | None = None
    initiator_name: str | None = None
    security_credential: str | None = None
    allowed_sources: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """Decrypted, for the Daraja client only; never logged (no repr of the secrets)."""

    base_url: str
    shortcode: str
    shortcode_type: ShortcodeType
    till_number: str | None
    consumer_key: str
    consumer_secret: str
    passkey: str
    initiator_name: str
    security_credential: str

    def __repr__(self) -> str:
        return f"Credentials(base_url={self.base_url!r}, shortcode={self.shortcode!r})"


@dataclass(frozen=True, slots=True)
class CallbackUrls:
    stk: str
    validation: str
    confirmation: str
    result: str
    timeout: str


async def settings_row(session: AsyncSession, *, lock: bool = False) -> MpesaSettings | None:
    if lock:
        return await session.get(MpesaSettings, 1, with_for_update=True)
    return await session.get(MpesaSettings, 1)


def _enum(cls, value: str, field: str):
    try:
        return cls(value.strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise MpesaError(field, f"{field} must be one of {choices}") from None


def _shortcode(value: str, field: str) -> str:
    value = (value or "").strip()
    if not _SHORTCODE.match(value):
        raise MpesaError(field, f"{field} must be 5 to 10 digits")
    return value


def _base_url(value: str) -> str | None:
    value = value.strip().rstrip("/")
    if not value:
        return None
    if not re.match(r"^https?://[^\s/@]+(:\d+)?(/[^\s]*)?$", value) or len(value) > 200:
        raise MpesaError("base_url", "base_url must be an http(s) address")
    check_base_url(value)
    return value


def check_base_url(url: str) -> None:
    """In production only Safaricom's Daraja, over https on its usual port: an address
    of one's choosing would receive the ISP's consumer key and secret."""
    if get_settings().is_production and not _is_daraja(url):
        raise MpesaError(
            "base_url",
            "base_url must be Safaricom's Daraja: " + " or ".join(sorted(BASE_URLS.values())),
        )


def _is_daraja(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed host or port
        return False
    return (
        parts.scheme == "https"
        and parts.hostname in DARAJA_HOSTS
        and port in (None, 443)
        and parts.username is None
    )


def clean_sources(values: list[str]) -> str:
    cleaned = []
    for raw in values:
        raw = raw.strip()
        if not raw:
            continue
        try:
            cleaned.append(str(ipaddress.ip_network(raw, strict=False)))
        except ValueError:
            raise MpesaError(
                "allowed_sources", f"{raw!r} is not an address or network (CIDR)"
            ) from None
    return "\n".join(cleaned)


def source_allowed(allowed_sources: str, address: str | None) -> bool:
    networks = [line for line in (allowed_sources or "").splitlines() if line.strip()]
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


async def update_settings(session: AsyncSession, change: SettingsChange) -> MpesaSettings:
    row = await settings_row(session, lock=True)
    if row is None:
        if change.shortcode is None:
            raise MpesaError("shortcode", "shortcode is required")
        row = MpesaSettings(id=1, allowed_sources="")
        session.add(row)
    if change.environment is not None:
        row.environment = _enum(DarajaEnvironment, change.environment, "environment")
    if change.base_url is not None:
        row.base_url = _base_url(change.base_url)
    if change.shortcode_type is not None:
        row.shortcode_type = _enum(ShortcodeType, change.shortcode_type, "shortcode_type")
    if change.shortcode is not None:
        row.shortcode = _shortcode(change.shortcode, "shortcode")
    if change.till_number is not None:
        till = change.till_number.strip()
        row.till_number = _shortcode(till, "till_number") if till else None
    if change.initiator_name is not None:
        row.initiator_name = change.initiator_name.strip()[:100] or None
    if change.allowed_sources is not None:
        row.allowed_sources = clean_sources(change.allowed_sources)
    for name in SECRET_FIELDS:
        value = getattr(change, name)
        if value is None:
            continue
        value = value.strip()
        if not value or len(value) > _MAX_SECRET:
            raise MpesaError(name, f"{name} must be 1 to {_MAX_SECRET} characters")
        setattr(row, f"{name}_encrypted", secrets.encrypt(value))
    if row.shortcode_type is ShortcodeType.TILL and not row.till_number:
        raise MpesaError("till_number", "a till needs its till number")
    await session.flush()
    return row


def credentials(row: MpesaSettings | None) -> Credentials:
    """The decrypted settings Daraja calls need; MpesaError naming what is missing."""
    if row is None:
        raise MpesaError("settings", "M-Pesa is not set up for this ISP")
    missing = [
        name
        for name in ("consumer_key", "consumer_secret", "passkey")
        if getattr(row, f"{name}_encrypted") is None
    ]
    if missing:
        raise MpesaError(missing[0], f"{missing[0]} is not set")

    def clear(name: str) -> str:
        token = getattr(row, f"{name}_encrypted")
        return secrets.decrypt(token) if token else ""

    base_url = row.base_url or BASE_URLS[row.environment]
    check_base_url(base_url)  # also one saved before, or outside production
    return Credentials(
        base_url=base_url,
        shortcode=row.shortcode,
        shortcode_type=row.shortcode_type,
        till_number=row.till_number,
        consumer_key=clear("consumer_key"),
        consumer_secret=clear("consumer_secret"),
        passkey=clear("passkey"),
        initiator_name=row.initiator_name or "",
        security_credential=clear("security_credential"),
    )


def public_url() -> str:
    url = get_settings().public_url
    if not url:
        raise MpesaError("public_url", "set KIUNGA_PUBLIC_URL: Daraja needs absolute URLs")
    return url


def callback_urls(token: str, base: str | None = None) -> CallbackUrls:
    # The path avoids the words Daraja refuses in C2B URLs ("mpesa", "safaricom", "query").
    root = f"{base or public_url()}{HOOK_PREFIX}/{token}"
    return CallbackUrls(
        stk=f"{root}/stk",
        validation=f"{root}/c2b/validation",
        confirmation=f"{root}/c2b/confirmation",
        result=f"{root}/result",
        timeout=f"{root}/timeout",
    )


def callback_token(row: MpesaSettings | None) -> str | None:
    if row is None or row.callback_token_encrypted is None:
        return None
    return secrets.decrypt(row.callback_token_encrypted)


async def rotate_callback_token(session: AsyncSession, tenant_id: int) -> str:
    """A new token for the tenant; the old one stops working at once (in this process;
    others forget it within KIUNGA_TENANT_CACHE_SECONDS). Returns the new token."""
    row = await settings_row(session, lock=True)
    if row is None:
        raise MpesaError("settings", "save the M-Pesa settings first")
    token = await route_new_token(session, tenant_id, PROVIDER)
    row.callback_token_encrypted = secrets.encrypt(token)
    row.c2b_registered_at = None
    await session.flush()
    return token


def accepted_shortcodes(row: MpesaSettings) -> set[str]:
    return {code for code in (row.shortcode, row.till_number) if code}


@dataclass(frozen=True, slots=True)
class SettingsView:
    configured: bool
    environment: str | None
    base_url: str | None
    shortcode_type: str | None
    shortcode: str | None
    till_number: str | None
    initiator_name: str | None
    consumer_key_set: bool
    consumer_secret_set: bool
    passkey_set: bool
    security_credential_set: bool
    allowed_sources: list[str]
    callback_urls: CallbackUrls | None
    c2b_registered_at: datetime | None
    c2b_registration_error: str | None


def settings_view(row: MpesaSettings | None) -> SettingsView:
    if row is None:
        return SettingsView(
            False, None, None, None, None, None, None, False, False, False, False, [], None,
            None, None,
        )  # fmt: skip
    token = callback_token(row)
    urls = None
    if token and get_settings().public_url:
        urls = callback_urls(token)
    return SettingsView(
        configured=True,
        environment=row.environment.value,
        base_url=row.base_url,
        shortcode_type=row.shortcode_type.value,
        shortcode=row.shortcode,
        till_number=row.till_number,
        initiator_name=row.initiator_name,
        consumer_key_set=row.consumer_key_encrypted is not None,
        consumer_secret_set=row.consumer_secret_encrypted is not None,
        passkey_set=row.passkey_encrypted is not None,
        security_credential_set=row.security_credential_encrypted is not None,
        allowed_sources=[s for s in (row.allowed_sources or "").splitlines() if s],
        callback_urls=urls,
        c2b_registered_at=row.c2b_registered_at,
        c2b_registration_error=row.c2b_registration_error,
    )
