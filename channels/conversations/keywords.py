"""SMS (and WhatsApp) keywords, in English and Swahili: BAL/SALIO, PAY 500/LIPA 500,
BUY <package>/NUNUA <package>, TICKET <text>/TIKETI <text>, HELP/MSAADA, STOP, START.

Matched case-insensitively on the first word, with accents and emoji dropped and `*`, `#`
and punctuation read as spaces ("Bal!", "lipa*500", "NÚNUA 1hr 👍"). Anything else is
free text for the conversation under way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KEYWORDS = {
    "BAL": ("balance", "en"),
    "BALANCE": ("balance", "en"),
    "SALIO": ("balance", "sw"),
    "PAY": ("pay", "en"),
    "LIPA": ("pay", "sw"),
    "BUY": ("buy", "en"),
    "NUNUA": ("buy", "sw"),
    "TICKET": ("ticket", "en"),
    "TIKETI": ("ticket", "sw"),
    "HELP": ("help", "en"),
    "MSAADA": ("help", "sw"),
    "STOP": ("stop", None),
    "START": ("start", None),
}
_SEPARATORS = re.compile(r"[\s*#,.;:!?()\[\]\"'`/\\_-]+")


@dataclass(frozen=True, slots=True)
class Command:
    action: str  # balance | pay | buy | ticket | help | stop | start
    # The language the keyword was in (None: STOP/START are both).
    language: str | None
    # What followed the keyword, as typed (a ticket's text, a package's name, an amount).
    rest: str


def plain(text: str) -> str:
    """Letters and digits without accents; everything else a space."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        char
        for char in decomposed
        if not unicodedata.combining(char)
        and unicodedata.category(char)[0] in "LNZP"
        or char in "*#"
    )
    return " ".join(_SEPARATORS.sub(" ", kept).split())


def parse_command(text: str) -> Command | None:
    cleaned = plain(text)
    if not cleaned:
        return None
    first, _, rest = cleaned.partition(" ")
    found = KEYWORDS.get(first.upper())
    if found is None:
        return None
    action, language = found
    if action == "ticket":
        # The problem as the subscriber wrote it: only the keyword is taken off.
        original = text.strip()
        rest = original[len(original.split(None, 1)[0]) :].strip() if original.split() else ""
        rest = rest.lstrip("*#:- ").strip()
    return Command(action, language, rest.strip())


def amount_in(rest: str) -> int | None:
    """The whole shillings in "500", "1,500", "KES 500" (minor units), or None."""
    digits = rest.upper().replace("KES", "").replace("KSH", "").replace(",", "").strip()
    digits = digits.split(" ")[0] if digits else ""
    if not digits.isdigit() or len(digits) > 9:
        return None
    return int(digits) * 100


def matches_package(wanted: str, name: str) -> bool:
    """The package's name starts with what was typed, ignoring case, accents, spaces and
    punctuation ("buy day" → "Day pass", "nunua saa1" → "Saa 1")."""
    left = plain(wanted).lower().replace(" ", "")
    right = plain(name).lower().replace(" ", "")
    return bool(left) and right.startswith(left)
