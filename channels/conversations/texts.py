"""The conversation engine's texts: one message catalogue per language, a TOML file in
`catalogue/` named by its language code, read by the channels' shared loader
(kiunga.channels.catalogues). Adding a language is adding a file; every file must hold
every key of the English one (a test checks it). A key missing at run time falls back to
English, and a missing placeholder value is shown empty, never a crash."""

from __future__ import annotations

from pathlib import Path

from kiunga.channels.catalogues import DEFAULT_LANGUAGE, Catalogue, placeholders

CATALOGUE = Catalogue(Path(__file__).parent / "catalogue")

__all__ = [
    "CATALOGUE",
    "DEFAULT_LANGUAGE",
    "catalogues",
    "has_text",
    "language_or_default",
    "languages",
    "placeholders",
    "translate",
]


def catalogues() -> dict[str, dict[str, str]]:
    """Every catalogue, by language code."""
    return CATALOGUE.books


def languages() -> tuple[str, ...]:
    """The languages a subscriber may choose, English first."""
    return CATALOGUE.languages


def language_or_default(code: object) -> str:
    return CATALOGUE.language_or_default(code)


def translate(language: str, key: str, **values: object) -> str:
    """The text `key` in `language` (English when that catalogue lacks it), filled in."""
    return CATALOGUE.text(language, key, **values)


def has_text(key: str) -> bool:
    return CATALOGUE.has(key)
