"""An ISP's channel settings: read, changed (secrets write-only), the USSD code it answers
on, and the secret path token of its callback URLs.

Follows M-Pesa's settings (kiunga.tenants.mpesa.config): the Africa's Talking API key and
the Twilio auth token are encrypted (channels/messages/secrets.py) and only ever said to be
set or not; the callback token's hash lives in platform.webhook_routes (provider
"channels"), the token itself encrypted in the tenant's row so that the console can show
the URLs to paste into the providers' dashboards. The USSD code is also written to
platform.ussd_codes, which routes a dialled code to one ISP across the platform.

Every refusal is a ChannelSettingsError naming the field and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from urllib.parse import urlsplit

from kiunga.channels.messages import secrets
from kiunga.channels.messages.models import ChannelSettings
from kiunga.channels.messages.outbound import wake_waiting
from kiunga.channels.messages.routing import PROVIDER, normalise_service_code
from kiunga.platform.errors import DomainError, Kind
from kiunga.platform.models import UssdCodeRoute
from kiunga.platform.settings import get_settings
from kiunga.platform.webhook_routes import route_new_token
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

HOOK_PREFIX = "/hooks/channels"
SECRET_FIELDS = ("at_api_key", "twilio_auth_token")
# The notification kinds an ISP may have an approved WhatsApp template for (a Content SID
# each), sent outside the 24 hours after the subscriber's last message.
TEMPLATE_KINDS = (
    "receipt",
    "due_soon",
    "overdue",
    "suspended",
    "restored",
    "voucher_code",
    "ticket_reply",
    "ticket_status",
    "outage",
    "campaign",
)
MIN_SEND_RATE, MAX_SEND_RATE = 1, 1000
# In production the API key and auth token go to the providers and nowhere else; another
# address (an emulator's) is for development and tests only.
PROVIDER_HOSTS = {
    "at_base_url": ("africastalking.com",),
    "twilio_base_url": ("twilio.com",),
}

_AT_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# AT's alphanumeric sender id: at most 11 letters and digits, no spaces.
_SENDER_ID = re.compile(r"^[A-Za-z0-9]{1,11}$")
_SHORTCODE = re.compile(r"^[0-9]{3,12}$")
# A USSD service code as dialled: `*483*57#`, each part 1 to 4 digits, at most 6 parts.
_SERVICE_CODE = re.compile(r"^\*[0-9]{1,4}(\*[0-9]{1,4}){0,5}#$")
# An extension on a shared code: digits, not starting with 0 ("03" and "3" would be two
# names for one ISP, and "0" is "back" on every screen).
_EXTENSION = re.compile(r"^[1-9][0-9]{0,5}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_AUTH_TOKEN = re.compile(r"^[0-9a-fA-F]{32}$")
_CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_URL = re.compile(r"^https?://[^\s/@?#]+(:[0-9]{1,5})?(/[^\s?#]*)?$")
# As the message log stores phones (its phone_e164 check).
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:00)?$")
_MAX_SECRET = 200
_MAX_URL = 200


class ChannelSettingsError(DomainError):
    """A channel setting refused: `field` names it, `message` says why."""


@dataclass(frozen=True, slots=True)
class ChannelSettingsChange:
    """What to change. None leaves a value as it is; '' clears an optional one (a secret
    cannot be cleared to nothing by mistake: '' is refused for it)."""

    at_username: str | None = None
    at_api_key: str | None = None
    at_sender_id: str | None = None
    at_shortcode: str | None = None
    at_base_url: str | None = None
    ussd_service_code: str | None = None
    ussd_extension: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    whatsapp_from: str | None = None
    twilio_base_url: str | None = None
    send_rate_per_second: int | None = None
    # "HH:MM" each, or both '' for no quiet hours.
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    # kind → Content SID; '' removes the kind's template. Kinds left out are kept.
    whatsapp_templates: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CallbackUrls:
    """The addresses to paste into Africa's Talking's and Twilio's dashboards."""

    ussd: str
    sms: str
    delivery: str
    whatsapp: str
    whatsapp_status: str


@dataclass(frozen=True, slots=True)
class ChannelSettingsView:
    """The settings as shown: secrets only as set or not."""

    configured: bool
    at_username: str | None
    at_api_key_set: bool
    at_sender_id: str | None
    at_shortcode: str | None
    at_base_url: str | None
    ussd_service_code: str | None
    ussd_extension: str | None
    # What subscribers dial: the own code, or the shared code with the extension put in.
    ussd_dial: str | None
    twilio_account_sid: str | None
    twilio_auth_token_set: bool
    whatsapp_from: str | None
    twilio_base_url: str | None
    send_rate_per_second: int
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    whatsapp_templates: dict[str, str]
    callback_urls: CallbackUrls | None


async def settings_row(session: AsyncSession, *, lock: bool = False) -> ChannelSettings | None:
    return await session.get(ChannelSettings, 1, with_for_update=lock or None)


# --- one validator per field ---------------------------------------------------------------


def _clean(value: str, field: str, limit: int) -> str:
    value = value.strip()
    if "\x00" in value:
        raise ChannelSettingsError(field, f"{field} must not contain NUL bytes")
    if len(value) > limit:
        raise ChannelSettingsError(field, f"{field} must be at most {limit} characters")
    return value


def _matching(value: str, field: str, pattern: re.Pattern, rule: str, limit: int) -> str | None:
    """The value if it matches, None for '' (cleared); else refused saying `rule`."""
    value = _clean(value, field, limit)
    if not value:
        return None
    if not pattern.match(value):
        raise ChannelSettingsError(field, f"{field} must be {rule}")
    return value


def _secret(value: str, field: str, pattern: re.Pattern | None = None, rule: str = "") -> str:
    value = _clean(value, field, _MAX_SECRET)
    if not value or any(c.isspace() or not c.isprintable() for c in value):
        raise ChannelSettingsError(
            field, f"{field} must be 1 to {_MAX_SECRET} characters without spaces"
        )
    if pattern is not None and not pattern.match(value):
        raise ChannelSettingsError(field, f"{field} must be {rule}")
    return value


def _base_url(value: str, field: str) -> str | None:
    value = _clean(value, field, _MAX_URL).rstrip("/")
    if not value:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or not _URL.match(value) or not parts.hostname:
        raise ChannelSettingsError(field, f"{field} must be an http(s) address")
    if get_settings().is_production:
        allowed = PROVIDER_HOSTS[field]
        own = any(parts.hostname == d or parts.hostname.endswith("." + d) for d in allowed)
        if parts.scheme != "https" or not own or port not in (None, 443):
            raise ChannelSettingsError(
                field, f"{field} must be an https address at {' or '.join(allowed)}"
            )
    return value


def _whatsapp_from(value: str) -> str | None:
    """E.164 as Twilio writes it (+14155238886); `whatsapp:` and spacing dropped."""
    value = _clean(value, "whatsapp_from", 30)
    if value.lower().startswith("whatsapp:"):
        value = value[len("whatsapp:") :]
    value = "".join(value.split()).replace("-", "")
    if not value:
        return None
    if not _E164.match(value):
        raise ChannelSettingsError(
            "whatsapp_from", "whatsapp_from must be a number in E.164 form: +14155238886"
        )
    return value


def _quiet_time(value: str, field: str) -> time | None:
    value = _clean(value, field, 8)
    if not value:
        return None
    matched = _TIME.match(value)
    if not matched:
        raise ChannelSettingsError(field, f"{field} must be a time as HH:MM (00:00 to 23:59)")
    return time(int(matched.group(1)), int(matched.group(2)))


def _send_rate(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChannelSettingsError("send_rate_per_second", "send_rate_per_second must be a number")
    if not MIN_SEND_RATE <= value <= MAX_SEND_RATE:
        raise ChannelSettingsError(
            "send_rate_per_second",
            f"send_rate_per_second must be {MIN_SEND_RATE} to {MAX_SEND_RATE}",
        )
    return value


def _templates(current: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    field = "whatsapp_templates"
    if len(given) > len(TEMPLATE_KINDS):
        raise ChannelSettingsError(field, f"{field} has more kinds than there are")
    merged = dict(current or {})
    for kind, sid in given.items():
        if kind not in TEMPLATE_KINDS:
            raise ChannelSettingsError(
                field, f"{field}: {kind[:40]!r} is not one of {', '.join(TEMPLATE_KINDS)}"
            )
        if not isinstance(sid, str):
            raise ChannelSettingsError(field, f"{field}.{kind} must be a Content SID")
        cleaned = _matching(
            sid, f"{field}.{kind}", _CONTENT_SID, "a Content SID: HX and 32 hex digits", 34
        )
        if cleaned is None:
            merged.pop(kind, None)
        else:
            merged[kind] = cleaned
    return merged


# --- the USSD code, platform-wide ----------------------------------------------------------


def dial_string(service_code: str, extension: str | None) -> str:
    """What a subscriber dials: `*384*12#` with extension 3 is `*384*12*3#`."""
    if not extension:
        return service_code
    return f"{service_code[:-1]}*{extension}#"


async def _claim_ussd_code(
    session: AsyncSession, tenant_id: int, code: str | None, extension: str | None
) -> None:
    """Point platform.ussd_codes at this ISP for `code` (+ `extension`), moving its row;
    None: the ISP answers on no code. Refused with 409 when another ISP has the code, or
    has it the other way (its own code when this is shared, or shared when this is own:
    a hop could then be routed to either)."""
    if code is not None:
        # Two ISPs saving the same code at once: one waits for the other's transaction.
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("ussd:" + code))))
        field = "ussd_extension" if extension else "ussd_service_code"
        others = (
            await session.execute(
                select(UssdCodeRoute.extension).where(
                    UssdCodeRoute.service_code == code, UssdCodeRoute.tenant_id != tenant_id
                )
            )
        ).scalars()
        for taken in others:
            if taken == (extension or ""):
                raise ChannelSettingsError(
                    field,
                    f"{dial_string(code, extension)} is another ISP's USSD code",
                    kind=Kind.CONFLICT,
                )
            if not extension:
                raise ChannelSettingsError(
                    "ussd_service_code",
                    f"{code} is shared by other ISPs: give your extension on it",
                    kind=Kind.CONFLICT,
                )
            if taken == "":
                raise ChannelSettingsError(
                    "ussd_service_code",
                    f"{code} is another ISP's own USSD code and cannot be shared",
                    kind=Kind.CONFLICT,
                )
    await session.execute(delete(UssdCodeRoute).where(UssdCodeRoute.tenant_id == tenant_id))
    if code is not None:
        session.add(
            UssdCodeRoute(service_code=code, extension=extension or "", tenant_id=tenant_id)
        )
    await session.flush()


# --- changing the settings -----------------------------------------------------------------


async def update_settings(
    session: AsyncSession, tenant_id: int, change: ChannelSettingsChange
) -> ChannelSettings:
    """Apply `change` to the ISP's row (made on first save), checking every field; the
    USSD code is claimed platform-wide in the same transaction, and the messages waiting
    for channel settings are woken. Callers forget the ChannelRoutes caches once
    committed."""
    row = await settings_row(session, lock=True)
    if row is None:
        row = ChannelSettings(id=1, whatsapp_templates={}, send_rate_per_second=20)
        session.add(row)
    text_fields = (
        ("at_username", _AT_USERNAME, "letters, digits, '_', '.' or '-' (your AT app's)", 100),
        ("at_sender_id", _SENDER_ID, "at most 11 letters and digits, no spaces", 11),
        ("at_shortcode", _SHORTCODE, "3 to 12 digits", 12),
        ("twilio_account_sid", _ACCOUNT_SID, "AC and 32 hex digits", 34),
    )
    for name, pattern, rule, limit in text_fields:
        value = getattr(change, name)
        if value is not None:
            setattr(row, name, _matching(value, name, pattern, rule, limit))
    for name in ("at_base_url", "twilio_base_url"):
        value = getattr(change, name)
        if value is not None:
            setattr(row, name, _base_url(value, name))
    if change.whatsapp_from is not None:
        row.whatsapp_from = _whatsapp_from(change.whatsapp_from)
    if change.at_api_key is not None:
        row.at_api_key_encrypted = secrets.encrypt(_secret(change.at_api_key, "at_api_key"))
    if change.twilio_auth_token is not None:
        token = _secret(change.twilio_auth_token, "twilio_auth_token", _AUTH_TOKEN, "32 hex digits")
        row.twilio_auth_token_encrypted = secrets.encrypt(token)
    if change.send_rate_per_second is not None:
        row.send_rate_per_second = _send_rate(change.send_rate_per_second)
    if change.quiet_hours_start is not None or change.quiet_hours_end is not None:
        start = _quiet_time(change.quiet_hours_start or "", "quiet_hours_start")
        end = _quiet_time(change.quiet_hours_end or "", "quiet_hours_end")
        if (start is None) != (end is None):
            missing = "quiet_hours_end" if end is None else "quiet_hours_start"
            raise ChannelSettingsError(
                missing, "quiet hours need both a start and an end, or neither"
            )
        if start is not None and start == end:
            raise ChannelSettingsError(
                "quiet_hours_end", "quiet hours must not start and end at once"
            )
        row.quiet_hours_start, row.quiet_hours_end = start, end
    if change.whatsapp_templates is not None:
        row.whatsapp_templates = _templates(row.whatsapp_templates, change.whatsapp_templates)
    if change.ussd_service_code is not None or change.ussd_extension is not None:
        await _change_ussd_code(session, tenant_id, row, change)
    if row.twilio_account_sid and row.twilio_auth_token_encrypted is None:
        raise ChannelSettingsError("twilio_auth_token", "a Twilio account needs its auth token")
    if row.at_username and row.at_api_key_encrypted is None:
        raise ChannelSettingsError("at_api_key", "an Africa's Talking app needs its API key")
    await session.flush()
    if row.callback_token_encrypted is None:
        await rotate_callback_token(session, tenant_id)
    # Messages held for want of these settings go now (those that still cannot go wait
    # again, their attempts untouched).
    await wake_waiting(session)
    return row


async def _change_ussd_code(
    session: AsyncSession, tenant_id: int, row: ChannelSettings, change: ChannelSettingsChange
) -> None:
    code = row.ussd_service_code
    if change.ussd_service_code is not None:
        raw = _clean(change.ussd_service_code, "ussd_service_code", 40)
        code = normalise_service_code(raw) or None
        if code is not None and not _SERVICE_CODE.match(code):
            raise ChannelSettingsError(
                "ussd_service_code", "ussd_service_code must be a USSD code such as *483*57#"
            )
    extension = row.ussd_extension
    if change.ussd_extension is not None:
        extension = _matching(
            change.ussd_extension, "ussd_extension", _EXTENSION, "1 to 6 digits, not 0 first", 6
        )
    if code is None and extension is not None:
        raise ChannelSettingsError("ussd_service_code", "an extension needs the shared code")
    if code is not None and len(dial_string(code, extension)) > 40:
        raise ChannelSettingsError("ussd_extension", "the code with its extension is too long")
    await _claim_ussd_code(session, tenant_id, code, extension)
    row.ussd_service_code, row.ussd_extension = code, extension


# --- the callback token --------------------------------------------------------------------


def public_url() -> str:
    url = get_settings().public_url
    if not url:
        raise ChannelSettingsError(
            "public_url", "set KIUNGA_PUBLIC_URL: the providers need absolute URLs"
        )
    return url


def callback_urls(token: str, base: str | None = None) -> CallbackUrls:
    root = f"{base or public_url()}{HOOK_PREFIX}/{token}"
    return CallbackUrls(
        ussd=f"{root}/ussd",
        sms=f"{root}/sms",
        delivery=f"{root}/delivery",
        whatsapp=f"{root}/whatsapp",
        whatsapp_status=f"{root}/whatsapp/status",
    )


def callback_token(row: ChannelSettings | None) -> str | None:
    if row is None or row.callback_token_encrypted is None:
        return None
    return secrets.decrypt(row.callback_token_encrypted)


def whatsapp_status_url(row: ChannelSettings | None) -> str | None:
    """The ISP's status-callback URL, named on each WhatsApp message sent; None without
    KIUNGA_PUBLIC_URL or a callback token."""
    token = callback_token(row)
    if token is None or not get_settings().public_url:
        return None
    return callback_urls(token).whatsapp_status


async def rotate_callback_token(session: AsyncSession, tenant_id: int) -> str:
    """A new token for the ISP's channel callbacks; the old one stops at once in this
    process once committed and its caches forgotten (others forget it within
    KIUNGA_TENANT_CACHE_SECONDS). Returns the new token."""
    row = await settings_row(session, lock=True)
    if row is None:
        raise ChannelSettingsError("settings", "save the channel settings first")
    token = await route_new_token(session, tenant_id, PROVIDER)
    row.callback_token_encrypted = secrets.encrypt(token)
    await session.flush()
    return token


# --- reading -------------------------------------------------------------------------------


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def settings_view(row: ChannelSettings | None) -> ChannelSettingsView:
    if row is None:
        return ChannelSettingsView(
            configured=False, at_username=None, at_api_key_set=False, at_sender_id=None,
            at_shortcode=None, at_base_url=None, ussd_service_code=None, ussd_extension=None,
            ussd_dial=None, twilio_account_sid=None, twilio_auth_token_set=False,
            whatsapp_from=None, twilio_base_url=None, send_rate_per_second=20,
            quiet_hours_start="21:00", quiet_hours_end="07:00", whatsapp_templates={},
            callback_urls=None,
        )  # fmt: skip
    token = callback_token(row)
    urls = callback_urls(token) if token and get_settings().public_url else None
    return ChannelSettingsView(
        configured=True,
        at_username=row.at_username,
        at_api_key_set=row.at_api_key_encrypted is not None,
        at_sender_id=row.at_sender_id,
        at_shortcode=row.at_shortcode,
        at_base_url=row.at_base_url,
        ussd_service_code=row.ussd_service_code,
        ussd_extension=row.ussd_extension,
        ussd_dial=dial_string(row.ussd_service_code, row.ussd_extension)
        if row.ussd_service_code
        else None,
        twilio_account_sid=row.twilio_account_sid,
        twilio_auth_token_set=row.twilio_auth_token_encrypted is not None,
        whatsapp_from=row.whatsapp_from,
        twilio_base_url=row.twilio_base_url,
        send_rate_per_second=row.send_rate_per_second,
        quiet_hours_start=_hhmm(row.quiet_hours_start),
        quiet_hours_end=_hhmm(row.quiet_hours_end),
        whatsapp_templates=dict(row.whatsapp_templates or {}),
        callback_urls=urls,
    )


def twilio_auth_token(row: ChannelSettings | None) -> str | None:
    """The ISP's Twilio auth token in clear, to check a webhook's signature; None when
    not set. Never logged or returned."""
    if row is None or row.twilio_auth_token_encrypted is None:
        return None
    return secrets.decrypt(row.twilio_auth_token_encrypted)
