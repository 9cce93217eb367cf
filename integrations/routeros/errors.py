"""What goes wrong talking to a router, in the kinds a caller acts on differently."""

from __future__ import annotations

from collections.abc import Mapping


class RouterError(Exception):
    """A router could not do what was asked. `router` is "host:port"."""

    def __init__(self, router: str, message: str) -> None:
        super().__init__(f"{router}: {message}")
        self.router = router
        self.message = message


class RouterUnreachable(RouterError):
    """Connection refused, timed out or dropped: nothing is known to have happened."""


class RouterAuthFailed(RouterError):
    """The router refused the API username or password."""


class RouterCertificateRefused(RouterError):
    """api-ssl presented a certificate other than the one pinned for the router; nothing,
    not even the login, was sent over that connection."""

    def __init__(self, router: str, pinned: str, presented: str) -> None:
        super().__init__(router, "the router's TLS certificate is not the pinned one")
        self.pinned = pinned
        self.presented = presented


class RouterTrap(RouterError):
    """The router answered !trap: it refused the command (`message` says why)."""

    def __init__(self, router: str, message: str, category: int | None, path: str) -> None:
        super().__init__(router, f"{path}: {message}")
        self.message = message
        self.category = category
        self.path = path


class RouterItemNotOurs(RouterError):
    """An item with that name exists on the router but Kiunga (this tenant) did not make it."""

    def __init__(self, router: str, path: str, item: Mapping[str, str]) -> None:
        name = item.get("name") or item.get("address") or item.get(".id")
        super().__init__(router, f"{path} {name!r} exists and is not Kiunga's; left alone")
        self.path = path
        self.item = dict(item)
