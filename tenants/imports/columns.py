"""Which spreadsheet column feeds which subscriber field.

Headers are matched loosely ("Phone No.", "phone_number" and "MOBILE" are all the phone);
an operator's own mapping (`--map "Jina=name"`) wins over the guess.
"""

from __future__ import annotations

import re

FIELDS = (
    "name", "account_number", "phones", "email", "region", "branch", "site", "address",
    "unit", "notes", "language", "status", "latitude", "longitude",
)  # fmt: skip

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "customer", "customer name", "client", "client name",
             "subscriber", "subscriber name", "jina"),
    "account_number": ("account", "account no", "account number", "acc", "acc no",
                       "account id", "customer id", "client id", "paybill account"),
    "phones": ("phone", "phones", "phone no", "phone number", "mobile", "mobile no",
               "mobile number", "tel", "telephone", "msisdn", "contact", "simu"),
    "email": ("email", "e mail", "email address", "mail"),
    "region": ("region", "county", "area", "town", "city", "zone"),
    "branch": ("branch", "office"),
    "site": ("site", "pop", "tower", "router"),
    "address": ("address", "location", "estate", "location estate", "physical address",
                "street", "building", "plot"),
    "unit": ("unit", "house", "house no", "apartment", "apartment unit", "door", "room",
             "flat", "hse no"),
    "notes": ("notes", "note", "comment", "comments", "remarks"),
    "language": ("language", "lang", "lugha"),
    "status": ("status", "state"),
    "latitude": ("latitude", "lat", "gps lat"),
    "longitude": ("longitude", "lng", "lon", "long", "gps long", "gps lng"),
}  # fmt: skip

_LOOKUP = {alias: field for field, aliases in ALIASES.items() for alias in aliases}


class MappingError(ValueError):
    pass


def header_key(header: str) -> str:
    """'Phone No.' → 'phone no'; 'Location/Estate' → 'location estate'."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", (header or "").lower()).split())


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """field → header, for the headers we recognise (the first one wins per field)."""
    mapping: dict[str, str] = {}
    for header in headers:
        field = _LOOKUP.get(header_key(header))
        if field and field not in mapping:
            mapping[field] = header
    return mapping


def parse_overrides(pairs: list[str], headers: list[str]) -> dict[str, str]:
    """`column=field` pairs as typed on the command line (or an empty column: skip it)."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.partition("=")
        column, field = column.strip(), field.strip()
        if not sep or column not in headers:
            raise MappingError(f"{pair!r}: expected COLUMN=FIELD with a column of the file")
        if field and field not in FIELDS:
            raise MappingError(f"{pair!r}: unknown field; fields are {', '.join(FIELDS)}")
        overrides[column] = field
    return overrides


def build_mapping(headers: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """field → header: the guess, corrected by `overrides` (column → field, '' to ignore)."""
    overrides = overrides or {}
    mapping = {
        field: header for field, header in guess_mapping(headers).items() if header not in overrides
    }
    for column, field in overrides.items():
        if field:
            mapping[field] = column
    if "name" not in mapping:
        raise MappingError("no column for the subscriber's name; map one with COLUMN=name")
    return mapping
