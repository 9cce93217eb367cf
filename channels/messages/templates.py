"""The texts of notifications: the catalogue's defaults per language, an ISP's own
wording (`MessageTemplate`), and rendering them with named values.

The catalogue is one JSON file per language in `catalogue/` (`en.json`, `sw.json`): a
third language is one more file, no code. Texts use str.format's named placeholders
(`{name}`, `{amount}`); each kind names the placeholders it offers (`KINDS`), which the
template editor checks an ISP's wording against, and sample values for its preview. Values
arrive formatted: money by platform/money.py, dates in the ISP's time zone.
"""

from __future__ import annotations

import json
import string
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from kiunga.channels.messages.models import MessageTemplate
from kiunga.platform.db.engine import TENANT_SCHEMA_KEY
from kiunga.platform.errors import DomainError
from kiunga.platform.models import Tenant
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

CATALOGUE = Path(__file__).parent / "catalogue"
DEFAULT_LANGUAGE = "en"
MAX_TEMPLATE = 1000

_COMMON = ("isp", "name", "account")
# Each kind's placeholders, with sample values for the editor's preview.
KINDS: dict[str, dict[str, str]] = {
    "receipt": {"amount": "KES 1,500.00", "receipt": "RCP-000123", "balance": "KES 0.00"},
    "due_soon": {"package": "Home 10 Mbps", "expires": "12 Dec 2026", "price": "KES 1,500.00"},
    "overdue": {"amount_due": "KES 1,500.00"},
    "suspended": {"package": "Home 10 Mbps", "amount_due": "KES 1,500.00"},
    "restored": {"package": "Home 10 Mbps", "expires": "07 Jan 2027"},
    "activated": {"package": "Home 10 Mbps", "expires": "07 Jan 2027"},
    "expired": {"package": "Home 10 Mbps", "price": "KES 1,500.00"},
    "voucher_code": {"package": "Daily 1 GB", "code": "K7M2QX", "expires": "08 Dec 2026"},
    "ticket_opened": {"ticket": "TKT-000042", "subject": "No internet since morning"},
    "ticket_reply": {"ticket": "TKT-000042", "reply": "A technician will come at 2 pm."},
    "ticket_status": {"ticket": "TKT-000042", "status": "resolved"},
}
SAMPLE_COMMON = {"isp": "Kiunga Net", "name": "Amina", "account": "100234"}


def placeholders(kind: str) -> tuple[str, ...]:
    return (*_COMMON, *KINDS[kind])


def sample_values(kind: str) -> dict[str, str]:
    return {**SAMPLE_COMMON, **KINDS.get(kind, {})}


@cache
def _catalogue(language: str) -> dict:
    path = CATALOGUE / f"{language}.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def languages() -> dict[str, str]:
    """The catalogue's languages: code → name (English first)."""
    found = {p.stem: _catalogue(p.stem).get("name", p.stem) for p in CATALOGUE.glob("*.json")}
    return dict(sorted(found.items(), key=lambda item: (item[0] != DEFAULT_LANGUAGE, item[0])))


def catalogue_text(kind: str, language: str) -> str:
    text = _catalogue(language).get("texts", {}).get(kind)
    return text or _catalogue(DEFAULT_LANGUAGE)["texts"][kind]


def status_word(status: str, language: str) -> str:
    words = _catalogue(language).get("statuses") or _catalogue(DEFAULT_LANGUAGE)["statuses"]
    return words.get(status, status.replace("_", " "))


class _Values(dict):
    def __missing__(self, key: str) -> str:  # a placeholder with no value stays visible
        return "{" + key + "}"


def render_text(text: str, values: dict[str, object]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Values(values))
    except (ValueError, IndexError, KeyError, AttributeError):
        return text  # checked when saved; a catalogue never gets here


def check_template(kind: str, text: str) -> str:
    """An ISP's wording, or DomainError naming what is wrong with it."""
    if kind not in KINDS:
        raise DomainError("kind", f"no notification kind {kind!r}")
    if "\x00" in text:
        raise DomainError("body", "NUL bytes are refused")
    text = text.strip()
    if not text:
        raise DomainError("body", "the text is empty")
    if len(text) > MAX_TEMPLATE:
        raise DomainError("body", f"at most {MAX_TEMPLATE} characters")
    allowed = set(placeholders(kind))
    try:
        fields = [field for _, field, spec, conv in string.Formatter().parse(text) if field]
        for _, field, spec, conv in string.Formatter().parse(text):
            if field is not None and (spec or conv):
                raise DomainError("body", f"write {{{field}}} without a format or conversion")
    except ValueError as exc:
        raise DomainError("body", f"unbalanced braces: {exc} (write {{{{ for a brace)") from exc
    unknown = sorted({f for f in fields if f not in allowed})
    if unknown or any(f == "" for f in fields):
        names = ", ".join("{" + name + "}" for name in placeholders(kind))
        shown = ", ".join("{" + u + "}" for u in unknown) or "{}"
        raise DomainError("body", f"unknown placeholder {shown}; this kind offers {names}")
    return text


async def template_text(session: AsyncSession, kind: str, language: str) -> str:
    """The ISP's wording of `kind` in `language`, else the catalogue's."""
    own = await session.get(MessageTemplate, (kind, language))
    if own is not None:
        return own.body
    return catalogue_text(kind, language)


async def render(session: AsyncSession, kind: str, language: str, values: dict[str, object]) -> str:
    text = await template_text(session, kind, language)
    return render_text(text, {"isp": await isp_name(session), **values})


async def isp_name(session: AsyncSession) -> str:
    schema = session.info.get(TENANT_SCHEMA_KEY)
    key = "kiunga_isp_name"
    if key not in session.info:
        session.info[key] = (
            await session.scalar(select(Tenant.name).where(Tenant.schema_name == schema)) or ""
        )
    return session.info[key]


def local_date(moment: datetime | str | None, zone: ZoneInfo) -> str:
    """A date as subscribers read it, in the ISP's zone: "12 Dec 2026"."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(zone).strftime("%d %b %Y")
