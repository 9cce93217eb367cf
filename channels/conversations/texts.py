"""The conversation engine's texts: one message catalogue per language, a TOML file in
`catalogue/` named by its language code. Adding a language is adding a file; every file
must hold every key of the English one (a test checks it). A key missing at run time falls
back to English, and a missing placeholder value is shown empty, never a crash."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
DEFAULT_LANGUAGE = "en"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogues() -> dict[str, dict[str, str]]:
    """Every catalogue, by language code."""
    found = {}
    for path in sorted(CATALOGUE_DIR.glob("*.toml")):
        with path.open("rb") as handle:
            found[path.stem] = _flatten(tomllib.load(handle))
    return found


def languages() -> tuple[str, ...]:
    """The languages a subscriber may choose, English first."""
    codes = sorted(catalogues(), key=lambda code: (code != DEFAULT_LANGUAGE, code))
    return tuple(codes)


def language_or_default(code: object) -> str:
    return code if isinstance(code, str) and code in catalogues() else DEFAULT_LANGUAGE


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def translate(language: str, key: str, **values: object) -> str:
    """The text `key` in `language` (English when that catalogue lacks it), filled in."""
    books = catalogues()
    text = books.get(language, {}).get(key)
    if text is None:
        text = books[DEFAULT_LANGUAGE].get(key, key)
    return text.format_map(_Blank({name: "" if v is None else v for name, v in values.items()}))


def has_text(key: str) -> bool:
    return key in catalogues()[DEFAULT_LANGUAGE]
