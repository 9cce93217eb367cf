"""Texts kept per language: a folder of message catalogues, one TOML file per language named
by its code (`en.toml`, `sw.toml`, …). The conversations, the /me pages and the captive
portal each keep such a folder and read it through a `Catalogue`.

Adding a language is adding a file to each folder: nothing lists the languages in code.
Every file holds every key of the default (English) one with the same {placeholders}
(each area's tests check it); a file names its own language under `language_name` where a
page offers a switch between languages. At run time a key missing from a language falls
back to English, a key missing everywhere is shown as the key itself, and a missing
placeholder value is shown empty: a gap in a catalogue never makes an error page."""

from __future__ import annotations

import string
import tomllib
from functools import cached_property
from pathlib import Path

DEFAULT_LANGUAGE = "en"
# The key under which a catalogue names its own language ("Kiswahili" in sw.toml).
LANGUAGE_NAME = "language_name"


def flatten(table: dict, prefix: str = "") -> dict[str, str]:
    """A TOML document's texts by dotted key: `[home] title = …` is "home.title"."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


class Catalogue:
    """The texts of one folder of catalogues, read once, on first use."""

    def __init__(self, folder: Path, default: str = DEFAULT_LANGUAGE) -> None:
        self.folder = folder
        self.default = default

    @cached_property
    def books(self) -> dict[str, dict[str, str]]:
        """Every catalogue of the folder, by language code."""
        found = {}
        for path in sorted(self.folder.glob("*.toml")):
            with path.open("rb") as handle:
                found[path.stem] = flatten(tomllib.load(handle))
        if self.default not in found:
            raise FileNotFoundError(f"{self.folder} has no {self.default}.toml")
        return found

    @property
    def languages(self) -> tuple[str, ...]:
        """The language codes, the default first."""
        return tuple(sorted(self.books, key=lambda code: (code != self.default, code)))

    def knows(self, code: object) -> bool:
        return isinstance(code, str) and code in self.books

    def language_or_default(self, code: object, fallback: object = None) -> str:
        """`code` when there is a catalogue for it, else `fallback` when there is one for
        that, else the default language."""
        for candidate in (code, fallback):
            if self.knows(candidate):
                return candidate
        return self.default

    def next_language(self, code: str) -> str:
        """The language a switch on a page offers from `code`: the next one, round."""
        codes = self.languages
        position = codes.index(code) if code in codes else -1
        return codes[(position + 1) % len(codes)]

    def language_name(self, code: str) -> str:
        """The language's own name for itself, as its catalogue gives it."""
        return self.books.get(code, {}).get(LANGUAGE_NAME, code)

    def has(self, key: str) -> bool:
        return key in self.books[self.default]

    def text(self, language: str, key: str, **values: object) -> str:
        """The text `key` in `language` (English where that catalogue lacks it), filled in."""
        books = self.books
        text = books.get(language, {}).get(key)
        if text is None:
            text = books[self.default].get(key, key)
        filled = {name: "" if value is None else value for name, value in values.items()}
        return text.format_map(_Blank(filled))

    def translator(self, language: object, fallback: object = None) -> Translator:
        return Translator(self, self.language_or_default(language, fallback))


class Translator:
    """The texts of one catalogue in one language: `t("key", name=value)`."""

    def __init__(self, catalogue: Catalogue, language: str) -> None:
        self.catalogue = catalogue
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        return self.catalogue.text(self.language, key, **values)

    def has(self, key: str) -> bool:
        return self.catalogue.has(key)
