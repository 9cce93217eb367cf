"""Reading the form fields a provider POSTs (Africa's Talking's callbacks, Twilio's webhooks)
strictly: each field once, text, bounded, no NUL or other control characters. A field that is
not what the provider sends raises `FormError` naming it; each provider's `forms` module
turns the checked fields into its dataclasses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Control characters other than tab, line feed and carriage return (those are judged apart:
# free text keeps them, a one-line value refuses them).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FormError(ValueError):
    """A callback that is not what the provider sends: `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def single_value(form: Mapping[str, Any], field: str) -> str | None:
    """The field's one value as text (None when absent), however the form was decoded."""
    value = form.get(field)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise FormError(field, "given more than once")
        value = value[0]
    if not isinstance(value, str):
        raise FormError(field, "not text")
    return value


def bounded_value(form: Mapping[str, Any], field: str, limit: int) -> str | None:
    """The field's value, at most `limit` characters and without NUL (None when absent)."""
    value = single_value(form, field)
    if value is None:
        return None
    if len(value) > limit:
        raise FormError(field, f"longer than {limit} characters")
    if "\x00" in value:
        raise FormError(field, "contains NUL")
    return value


def one_line(value: str, field: str) -> str:
    """A value that must fit on one line, spaces around dropped."""
    if CONTROL.search(value) or any(c in value for c in "\n\r\t"):
        raise FormError(field, "contains a control character")
    return value.strip()


def optional_line(
    form: Mapping[str, Any], field: str, limit: int, pattern: re.Pattern[str] | None = None
) -> str | None:
    """A one-line value that may be absent or empty (None then)."""
    value = bounded_value(form, field, limit)
    if value is None:
        return None
    value = one_line(value, field)
    if not value:
        return None
    if pattern is not None and not pattern.match(value):
        raise FormError(field, f"not valid: {value[:40]!r}")
    return value


def message_text(form: Mapping[str, Any], field: str, limit: int) -> str:
    """Free text a person typed: kept as typed (newlines, emoji, diacritics, `*`), but no NUL
    or other control characters besides line breaks and tabs."""
    value = bounded_value(form, field, limit)
    if value is None:
        raise FormError(field, "missing")
    if CONTROL.search(value):
        raise FormError(field, "contains a control character")
    return value
