"""Billing's errors: refusals that name the field (answered 4xx by the web layer)."""

from __future__ import annotations

from kiunga.platform.errors import DomainError, Kind


class BillingError(DomainError, ValueError):
    """Bad input or a refused operation (400); `field` names what was wrong."""


class ReferenceConflict(BillingError):
    """The provider reference is already recorded for another amount or account (409)."""

    kind = Kind.CONFLICT


class NotFound(DomainError, LookupError):
    """No such record (404); raised as `NotFound(field, message)`, the field named."""

    kind = Kind.NOT_FOUND


def money(value: object, field: str = "amount", *, allow_negative: bool = False) -> int:
    """An amount in integer minor units, or a BillingError naming `field`.

    Floats are refused even when whole (12.0): money that went through a float may already
    have lost a cent somewhere upstream.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise BillingError(field, f"{field} must be a whole number of minor units (cents)")
    if value == 0:
        raise BillingError(field, f"{field} must not be zero")
    if value < 0 and not allow_negative:
        raise BillingError(field, f"{field} must be more than zero")
    return value


def positive_count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BillingError(field, f"{field} must be a whole number more than zero")
    return value


def required_text(value: str | None, field: str, *, max_length: int = 2000) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise BillingError(field, f"{field} is required")
    if len(text) > max_length:
        raise BillingError(field, f"{field} must be at most {max_length} characters")
    return text
