"""The comment Kiunga writes on everything it creates on a router, and the test for it.

    kiunga:<tenant-slug>:<key>        e.g. kiunga:acme-net:secret:4711

Synchronising a router must never change or remove what an ISP's staff made by hand (their
own queues, an admin's PPP secret), so every item Kiunga adds carries this comment, and
anything without it — or with another tenant's slug — is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "kiunga"
# The tenant slug's shape (as the platform validates it), loose enough to read any slug back.
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Mark:
    tenant: str
    key: str

    def __str__(self) -> str:
        return f"{PREFIX}:{self.tenant}:{self.key}"


def mark(tenant: str, key: str | int) -> str:
    """The comment for an item that `tenant` creates under `key` (a stable id of its own)."""
    key = str(key)
    if not _SLUG.match(tenant):
        raise ValueError(f"not a tenant slug: {tenant!r}")
    if not key or any(char in key for char in "\r\n"):
        raise ValueError(f"a mark's key must be one non-empty line, not {key!r}")
    return str(Mark(tenant, key))


def parse_mark(comment: object) -> Mark | None:
    """The mark in a comment, or None for a comment Kiunga did not write."""
    if not isinstance(comment, str):
        return None
    prefix, _, rest = comment.partition(":")
    tenant, _, key = rest.partition(":")
    if prefix != PREFIX or not _SLUG.match(tenant) or not key:
        return None
    return Mark(tenant, key)


def ours(comment: object, tenant: str | None = None) -> bool:
    """Whether Kiunga made the item (for `tenant`, when given)."""
    found = parse_mark(comment)
    return found is not None and (tenant is None or found.tenant == tenant)
