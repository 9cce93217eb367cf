"""The comment Kiunga writes on everything it creates on a router, and the test for it.

    kiunga:<tenant-slug>:<key>        e.g. kiunga:acme-net:secret:4711

Synchronising a router must never change or remove what an ISP's staff made by hand (their
own queues, an admin's PPP secret), so every item Kiunga adds carries this comment, and
anything without it — or with another tenant's slug — is left alone.

A menu whose items have no comment on RouterOS (/ip/hotspot/user/profile) cannot carry
that mark, so there Kiunga's items are known by a reserved name instead:

    kiunga-<tenant-slug>-<word>-<number>    e.g. kiunga-acme-net-pkg-12

The key's shape (one word, one number) is what keeps one slug's names from being read as
another's: "kiunga-acme-net-pkg-12" is acme-net's, never acme's with a key "net-pkg-12".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "kiunga"
# The tenant slug's shape (as the platform validates it), loose enough to read any slug back.
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
NAME_KEY = re.compile(r"^[a-z]+-[0-9]+$")
_RESERVED_NAME = re.compile(r"^kiunga-(?P<tenant>[a-z0-9][a-z0-9-]*)-(?P<key>[a-z]+-[0-9]+)$")


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


def reserved_name(tenant: str, key: str | int) -> str:
    """The name of an item `tenant` creates under `key` in a menu without comments."""
    key = str(key)
    if not _SLUG.match(tenant):
        raise ValueError(f"not a tenant slug: {tenant!r}")
    if not NAME_KEY.match(key):
        raise ValueError(f"a reserved name's key is a word and a number (pkg-12), not {key!r}")
    return f"{PREFIX}-{tenant}-{key}"


def parse_reserved_name(name: object) -> Mark | None:
    """The mark a reserved name carries, or None for any other name."""
    if not isinstance(name, str):
        return None
    found = _RESERVED_NAME.match(name)
    if found is None:
        return None
    return Mark(found["tenant"], found["key"])
