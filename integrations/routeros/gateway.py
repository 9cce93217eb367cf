"""What provisioning needs of a router (`RouterOSGateway`), the menus it works in, and the
results the calls return. `client.RouterOSClient` is the real gateway; the emulator is the
router tests use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kiunga.integrations.routeros.rates import RateLimit

HOTSPOT_USER_PROFILE = "/ip/hotspot/user/profile"
HOTSPOT_USER = "/ip/hotspot/user"
HOTSPOT_ACTIVE = "/ip/hotspot/active"
PPP_PROFILE = "/ppp/profile"
PPP_SECRET = "/ppp/secret"
PPP_ACTIVE = "/ppp/active"
SIMPLE_QUEUE = "/queue/simple"
ADDRESS_LIST = "/ip/firewall/address-list"
FIREWALL_FILTER = "/ip/firewall/filter"
# Menus whose items have no comment property on RouterOS: Kiunga's items there are known by
# a reserved name (see `marks.reserved_name`).
NAMED_MENUS = frozenset({HOTSPOT_USER_PROFILE})
# Each active-session menu: the menu of the items that let its sessions in, and the
# session's property naming that item.
SESSION_LOGINS = {PPP_ACTIVE: (PPP_SECRET, "name"), HOTSPOT_ACTIVE: (HOTSPOT_USER, "user")}
# The firewall address list a suspended subscriber's address goes on (the ISP's firewall
# rules decide what that list may reach: usually only the payment page).
SUSPENDED_LIST = "kiunga-suspended"

Row = dict[str, str]


@dataclass(frozen=True)
class RouterStatus:
    identity: str
    version: str
    uptime: str
    cpu_load: int | None
    free_memory: int | None
    total_memory: int | None
    board_name: str


@dataclass(frozen=True)
class Ensured:
    """What `ensure` did: the item's id, and whether it was created or changed."""

    id: str
    created: bool = False
    changed: bool = False


@runtime_checkable
class RouterOSGateway(Protocol):
    """What provisioning needs of a router; `RouterOSClient` is the real one."""

    async def status(self) -> RouterStatus: ...
    async def test_connection(self) -> RouterStatus: ...
    async def list(
        self,
        path: str,
        *,
        proplist: Sequence[str] | None = None,
        where: Sequence[str] = (),
        **equal: object,
    ) -> list[Row]: ...
    async def add(self, path: str, **attributes: object) -> str: ...
    async def set(self, path: str, item_id: str, **attributes: object) -> None: ...
    async def remove(self, path: str, *item_ids: str) -> None: ...
    async def ours(self, path: str, **equal: object) -> list[Row]: ...
    async def by_key(self, path: str, key: str | int) -> list[Row]: ...
    async def add_first(self, path: str, **attributes: object) -> str: ...
    async def find_by_key(self, path: str, key: str | int) -> Row | None: ...
    async def ensure(
        self, path: str, match: Mapping[str, object], key: str | int, **attributes: object
    ) -> Ensured: ...
    async def remove_ours(self, path: str, **equal: object) -> int: ...
    async def ensure_hotspot_user_profile(
        self,
        name: str,
        *,
        rate_limit: str | RateLimit,
        shared_users: int = 1,
        key: str | None = None,
        **extra: object,
    ) -> Ensured: ...
    async def ensure_hotspot_user(
        self,
        name: str,
        *,
        password: str,
        profile: str,
        disabled: bool = False,
        key: str | None = None,
        **extra: object,
    ) -> Ensured: ...
    async def remove_hotspot_user(self, name: str) -> int: ...
    async def hotspot_sessions(self, user: str | None = None) -> list[Row]: ...
    async def cut_hotspot_sessions(self, user: str) -> int: ...
    async def cut_own_sessions(
        self, path: str, logins: Iterable[str], *, one_by_one: bool = True
    ) -> list[str]: ...
    async def ensure_ppp_profile(
        self,
        name: str,
        *,
        rate_limit: str | RateLimit,
        local_address: str | None = None,
        remote_address: str | None = None,
        key: str | None = None,
        **extra: object,
    ) -> Ensured: ...
    async def ensure_ppp_secret(
        self,
        name: str,
        *,
        password: str,
        profile: str,
        service: str = "pppoe",
        disabled: bool = False,
        key: str | None = None,
        **extra: object,
    ) -> Ensured: ...
    async def remove_ppp_secret(self, name: str) -> int: ...
    async def ppp_sessions(self, name: str | None = None) -> list[Row]: ...
    async def cut_ppp_sessions(self, name: str) -> int: ...
    async def ensure_simple_queue(
        self,
        name: str,
        *,
        target: str,
        rate_limit: str | RateLimit,
        key: str | None = None,
        **extra: object,
    ) -> Ensured: ...
    async def remove_simple_queue(self, name: str) -> int: ...
    async def suspend_address(
        self, address: str, *, list_name: str = SUSPENDED_LIST, key: str | None = None
    ) -> Ensured: ...
    async def restore_address(self, address: str, *, list_name: str = SUSPENDED_LIST) -> int: ...
    async def suspended_addresses(self, *, list_name: str = SUSPENDED_LIST) -> list[str]: ...
    async def close(self) -> None: ...
