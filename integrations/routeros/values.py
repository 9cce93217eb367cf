"""Values on their way to a router, and the comparison that decides whether a property
already holds what Kiunga would write."""

from __future__ import annotations

from collections.abc import Mapping

from kiunga.integrations.routeros.rates import RateLimit


def api_name(key: str) -> str:
    """Python keyword → RouterOS property: max_limit → max-limit (RouterOS has no '_')."""
    return key.replace("_", "-")


def wire_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def normalise_path(path: str) -> str:
    """'ip/hotspot/user', '/ip/hotspot/user/' → '/ip/hotspot/user'."""
    return "/" + "/".join(part for part in path.strip().split("/") if part)


def attribute_words(attributes: Mapping[str, object]) -> list[str]:
    return [f"={api_name(key)}={wire_value(value)}" for key, value in attributes.items()]


def named(match: Mapping[str, object]) -> dict[str, str]:
    return {api_name(key): wire_value(value) for key, value in match.items()}


_TRUTH = {"yes": True, "true": True, "no": False, "false": False}
# Queue rates RouterOS prints back in bits per second, whatever unit they were given in.
_RATE_PROPERTIES = {"max-limit", "limit-at", "burst-limit", "burst-threshold"}


def same_value(name: str, current: str, wanted: str) -> bool:
    """Whether a property as the router shows it already has the value we would write."""
    if current == wanted:
        return True
    if current.lower() in _TRUTH and wanted.lower() in _TRUTH:
        return _TRUTH[current.lower()] == _TRUTH[wanted.lower()]
    if name in _RATE_PROPERTIES:
        try:
            now, new = RateLimit.parse(current), RateLimit.parse(wanted)
        except ValueError:
            return False
        return (now.upload_bps, now.download_bps) == (new.upload_bps, new.download_bps)
    return False
