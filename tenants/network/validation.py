"""What a router's fields may hold, each refusal naming its field and why."""

from __future__ import annotations

import ipaddress
import re

from kiunga.platform.errors import DomainError, Kind
from kiunga.tenants.network.models import RouterMode

MAX_NAME_LENGTH = 120
MAX_USERNAME_LENGTH = 100
MAX_PASSWORD_LENGTH = 200
MAX_SECRET_LENGTH = 128
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class RouterError(DomainError, ValueError):
    """Bad input for a router; `field` names what was wrong (400, or 409 for a clash)."""


class RouterConflict(RouterError):
    kind = Kind.CONFLICT


def clean_name(value: object) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise RouterError("name", "name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise RouterError("name", f"name must be at most {MAX_NAME_LENGTH} characters")
    return name


def ip_or_none(value: str) -> str | None:
    """The address in its canonical form if it is an IP address (v4 or v6), else None."""
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def clean_address(value: object) -> str:
    text = str(value or "").strip()
    if not text:
        raise RouterError("address", "address is required")
    ip = ip_or_none(text.strip("[]"))
    if ip is not None:
        return ip
    host = text.lower().rstrip(".")
    labels = host.split(".")
    if (
        len(host) > 253
        or not all(_HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()  # 10.0.0.300 is a bad address, not a host name
    ):
        raise RouterError("address", f"{text!r} is not an IP address or a host name")
    return host


def clean_port(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise RouterError(field, f"{field} must be a whole number from 1 to 65535")
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise RouterError(field, f"{field} must be a whole number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise RouterError(field, f"{field} must be from 1 to 65535, not {port}")
    return port


def clean_mode(value: object) -> RouterMode:
    try:
        return RouterMode(str(value or "").strip().lower())
    except ValueError:
        raise RouterError("mode", "mode must be api or radius") from None


def clean_username(value: object) -> str | None:
    text = str(value or "").strip()
    if len(text) > MAX_USERNAME_LENGTH:
        raise RouterError(
            "api_username", f"api_username must be at most {MAX_USERNAME_LENGTH} characters"
        )
    return text or None


def clean_secret(value: object, field: str, limit: int) -> str:
    # Kept exactly as given (spaces may be part of a password), only checked.
    text = "" if value is None else str(value)
    if not text.strip():
        raise RouterError(field, f"{field} cannot be empty")
    if len(text) > limit or any(ord(ch) < 32 for ch in text):
        raise RouterError(field, f"{field} must be 1 to {limit} printable characters")
    return text


def clean_source_address(value: object) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    ip = ip_or_none(text)
    if ip is None:
        raise RouterError(
            "radius_source_address",
            f"{text!r} is not an IP address (RADIUS clients are known by the address "
            "their packets come from)",
        )
    return ip
