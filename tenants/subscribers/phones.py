"""Phone numbers in E.164 (+2547…), from the ways people type them (07…, 2547…, +2547…)."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "KE"
# Kenyan mobiles as people write them (0712…, 712…, 254712…, +254 712 …; 07xx and 01xx
# ranges). Recognised directly: parsing with phonenumbers costs far more, which an import
# of thousands of rows notices. Anything else goes through phonenumbers.
_KENYAN_MOBILE = re.compile(r"^(?:\+?254|0)?(7\d{8}|10[0-8]\d{6}|11\d{7})$")
_SPACING = re.compile(r"[\s\-().]")


class InvalidPhone(ValueError):
    pass


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164, or InvalidPhone with a message fit to show the person who typed it."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("phone number is required")
    if region == DEFAULT_REGION:
        mobile = _KENYAN_MOBILE.match(_SPACING.sub("", text))
        if mobile:
            return "+254" + mobile.group(1)
    compact = "".join(text.split())
    if len(compact) == 9 and compact.isdigit() and compact[0] in "71":
        # 712345678: a Kenyan mobile whose leading 0 a spreadsheet dropped.
        text = "0" + compact
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text[0].isdigit() and not text.startswith("0"):
        # 2547…: a country code typed without the plus sign.
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
