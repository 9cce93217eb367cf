"""Every word the /me pages show: one catalogue per language in `catalogue/` (en.toml,
sw.toml, …), read by the channels' shared loader (kiunga.channels.catalogues). A third
language is a third file, not code."""

from __future__ import annotations

from pathlib import Path

from kiunga.channels.catalogues import Catalogue, Translator

CATALOGUE = Catalogue(Path(__file__).parent / "catalogue")


def pick_language(requested: object, default: str = "en") -> str:
    return CATALOGUE.language_or_default(requested, default)


def translator(language: object) -> Translator:
    return CATALOGUE.translator(language)
