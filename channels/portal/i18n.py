"""Every word the portal shows: one catalogue per language in `catalogue/` (en.toml,
sw.toml, …), read by the channels' shared loader (kiunga.channels.catalogues), and the
portal's own ways of saying a validity unit, a duration and an amount of data."""

from __future__ import annotations

from pathlib import Path

from kiunga.channels.catalogues import Catalogue, Translator

CATALOGUE = Catalogue(Path(__file__).parent / "catalogue")


def pick_language(requested: object, default: object) -> str:
    """`requested` when the portal speaks it, else the ISP's default, else English."""
    return CATALOGUE.language_or_default(requested, default)


class PortalTranslator(Translator):
    def unit(self, unit: str, count: int) -> str:
        singular, _, plural = self(f"unit_{unit}").partition("|")
        return singular if count == 1 else (plural or singular)

    def duration(self, seconds: int) -> str:
        minutes = max(int(seconds), 0) // 60
        days, minutes = divmod(minutes, 1440)
        hours, minutes = divmod(minutes, 60)
        if days:
            return self("duration_dhm", d=days, h=hours, m=minutes)
        if hours:
            return self("duration_hm", h=hours, m=minutes)
        return self("duration_m", m=minutes)


def translator(language: object) -> PortalTranslator:
    return PortalTranslator(CATALOGUE, CATALOGUE.language_or_default(language))


def data_amount(size: int) -> str:
    """1500000000 → "1.5 GB" (decimal units, as ISPs sell them)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            value = size / scale
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{size} B"
