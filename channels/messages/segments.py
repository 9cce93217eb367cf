"""How many SMS segments a text takes, as the network counts them.

A text that every character of fits in the GSM 03.38 alphabet travels as GSM-7: 160
septets in one message, or 153 a segment once it is split (the rest of each segment is the
header that joins them); a character of the extension table (`{`, `€`, …) takes two septets,
an escape and itself, and a segment never ends between the two. Any other character (a
curly quote, an emoji, most accents) makes the whole text UCS-2: 70 UTF-16 code units in
one message, 67 a segment once split, and a segment never ends inside a surrogate pair.

Operators see the count beside a template they edit, and the channels keep a reply within
one segment where they can: an ISP pays for every segment.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 default alphabet (one septet each) and its extension table (two each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
PER_SEGMENT = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: str  # "gsm7" or "ucs2"
    # Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
    units: int
    count: int
    # What is left in the last segment before one more is needed.
    remaining: int


def encoding_of(text: str) -> str:
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return "gsm7"
    return "ucs2"


def _widths(text: str, encoding: str) -> list[int]:
    """Each character's width in the encoding's units (a pair stays whole)."""
    if encoding == "gsm7":
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def count_segments(text: str) -> Segments:
    """The segments `text` takes (an empty text is one, as a network sends it)."""
    encoding = encoding_of(text)
    widths = _widths(text, encoding)
    units = sum(widths)
    if units <= SINGLE[encoding]:
        return Segments(encoding, units, 1, SINGLE[encoding] - units)
    size = PER_SEGMENT[encoding]
    count, used = 1, 0
    for width in widths:
        if used + width > size:  # never split an escape pair or a surrogate pair
            count, used = count + 1, 0
        used += width
    return Segments(encoding, units, count, size - used)
