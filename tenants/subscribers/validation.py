"""Checks on a subscriber's fields, shared by the API, the console and the importer.
Each failure names the field as the API reports it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from kiunga.platform.errors import DomainError
from kiunga.tenants.subscribers.accounts import InvalidAccountNumber, clean_account_number
from kiunga.tenants.subscribers.models import Language, SubscriberStatus
from kiunga.tenants.subscribers.phones import InvalidPhone, normalise_phone

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIMITS = {"name": 200, "region": 120, "branch": 120, "unit": 60, "email": 254}


class SubscriberError(DomainError, ValueError):
    """Bad input for a subscriber; `field` names what was wrong."""


def text(field: str, value: str | None, *, required: bool = False) -> str:
    cleaned = " ".join((value or "").split())
    if required and not cleaned:
        raise SubscriberError(field, f"{field} is required")
    limit = LIMITS.get(field)
    if limit and len(cleaned) > limit:
        raise SubscriberError(field, f"{field} must be at most {limit} characters")
    return cleaned


def email(value: str | None) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        return None
    if len(cleaned) > LIMITS["email"] or not EMAIL.match(cleaned):
        raise SubscriberError("email", f"{cleaned!r} is not an email address")
    return cleaned.lower()


def phones(values: list[str]) -> list[str]:
    """E.164 numbers in the order given (the first is the primary), without repeats."""
    cleaned: list[str] = []
    for index, raw in enumerate(values):
        try:
            number = normalise_phone(raw)
        except InvalidPhone as exc:
            raise SubscriberError(f"phones[{index}]", str(exc)) from exc
        if number not in cleaned:
            cleaned.append(number)
    return cleaned


def account_number(value: str) -> str:
    try:
        return clean_account_number(value)
    except InvalidAccountNumber as exc:
        raise SubscriberError("account_number", str(exc)) from exc


def choice(field: str, value: str, enum_type):
    try:
        return enum_type(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum_type)
        raise SubscriberError(field, f"{field} must be one of: {allowed}") from exc


def language(value: str) -> Language:
    return choice("language", (value or "").strip().lower(), Language)


def status(value: str) -> SubscriberStatus:
    return choice("status", (value or "").strip().lower(), SubscriberStatus)


def coordinate(field: str, value, bound: int) -> Decimal:
    if isinstance(value, bool):
        raise SubscriberError(field, f"{field} must be a number")
    try:
        number = Decimal(str(value)).quantize(Decimal("0.000001"))
    except InvalidOperation as exc:
        raise SubscriberError(field, f"{field} must be a number") from exc
    if not -bound <= number <= bound:
        raise SubscriberError(field, f"{field} must be between -{bound} and {bound}")
    return number


def gps(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        missing = "latitude" if latitude is None else "longitude"
        raise SubscriberError(missing, "give both latitude and longitude, or neither")
    return coordinate("latitude", latitude, 90), coordinate("longitude", longitude, 180)
