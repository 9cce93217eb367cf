"""SMS segments as the network counts them: GSM-7 (160, then 153 a segment; extension
characters two septets, never split) or UCS-2 (70, then 67; surrogate pairs never split)."""

import pytest
from kiunga.channels.messages.segments import count_segments, encoding_of


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count", "remaining"),
    [
        ("", "gsm7", 0, 1, 160),
        ("a" * 160, "gsm7", 160, 1, 0),
        ("a" * 161, "gsm7", 161, 2, 145),
        ("a" * 306, "gsm7", 306, 2, 0),
        ("a" * 307, "gsm7", 307, 3, 152),
        # Extension characters take two septets: 80 euros fill one message.
        ("€" * 80, "gsm7", 160, 1, 0),
        # 81 do not: 76 a segment (152 septets; a 77th would split its escape).
        ("€" * 81, "gsm7", 162, 2, 143),
        ("a" * 152 + "€" + "a" * 10, "gsm7", 164, 2, 141),
        # Accents in the GSM alphabet stay GSM-7; one outside it makes the text UCS-2.
        ("Müller à Zürich", "gsm7", 15, 1, 145),
        ("ú" * 70, "ucs2", 70, 1, 0),
        ("ú" * 71, "ucs2", 71, 2, 63),
        ("Habari 😊", "ucs2", 9, 1, 61),
        # An emoji (a surrogate pair) is never split across two segments.
        ("ú" * 67 + "😊" + "ú" * 2, "ucs2", 71, 2, 63),
        ("Asante ’", "ucs2", 8, 1, 62),
    ],
)
def test_segments(text, encoding, units, count, remaining):
    counted = count_segments(text)
    assert (counted.encoding, counted.units, counted.count, counted.remaining) == (
        encoding,
        units,
        count,
        remaining,
    )


def test_a_typical_swahili_balance_reply_fits_one_segment():
    reply = (
        "Salio lako ni KES 1,500. Kifurushi: Home 10 Mbps, kinaisha 12/01/2027. "
        "Lipa kwa M-Pesa: Paybill 123456, akaunti 1234567."
    )
    assert encoding_of(reply) == "gsm7"
    assert count_segments(reply).count == 1
