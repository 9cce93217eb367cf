"""Bringing a router in line with a desired state: read what it holds under this ISP's
marks, work out the difference, and send only that.

Only items carrying this ISP's mark are read, changed or removed; an item staff made by
hand (or another ISP's, on a shared router) is never touched, even when it has the name
Kiunga wants (the add is then refused by the router, and that refusal is reported).

A run carries on past a refused change (the other changes still help the subscribers they
concern) and reports every refusal at the end; a router that stops answering ends the run
at once, since nothing more can be done.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from kiunga.integrations.routeros.client import (
    FIREWALL_FILTER,
    HOTSPOT_ACTIVE,
    HOTSPOT_USER,
    PPP_ACTIVE,
    PPP_SECRET,
    RouterOSClient,
    RouterTrap,
    Row,
)
from kiunga.integrations.routeros.values import same_value
from kiunga.tenants.network.provisioning.desired import (
    ITEM_MENUS,
    MENUS,
    SHARED_MENUS,
    DesiredState,
    Item,
)

# The active-session menu of each kind of login.
SESSIONS = {"ppp": PPP_ACTIVE, "hotspot": HOTSPOT_ACTIVE}
LOGIN_MENUS = {PPP_SECRET: "ppp", HOTSPOT_USER: "hotspot"}
# Menus where order matters: Kiunga's item goes first when it is added.
FIRST_IN_MENUS = (FIREWALL_FILTER,)
_LABELS = {
    "/ppp/profile": "PPP profile",
    "/ppp/secret": "PPP secret",
    "/ip/hotspot/user/profile": "hotspot profile",
    "/ip/hotspot/user": "hotspot user",
    "/queue/simple": "queue",
    "/ip/firewall/address-list": "suspended address",
    "/ip/firewall/filter": "firewall rule",
}


class ProvisioningRefused(Exception):
    """The router refused some changes (or some services could not be provisioned); the
    rest were made."""

    def __init__(self, problems: list[str], done: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.done = done


@dataclass(frozen=True)
class Change:
    op: str  # add | set | remove
    path: str
    key: str
    name: str
    item_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    # A login item removed or renamed: its sessions are cut just before, while the item
    # still shows they are this ISP's: (kind, its name now), kind "ppp" or "hotspot".
    cut_first: tuple[str, str] | None = None

    def subject(self) -> str:
        return f"{_LABELS.get(self.path, self.path)} {self.name}"

    def describe(self) -> str:
        verb = {"add": "added", "set": "changed", "remove": "removed"}[self.op]
        what = _LABELS.get(self.path, self.path)
        if self.op == "set":
            shown = sorted(k for k in self.attributes if k not in ("password", "comment"))
            if "password" in self.attributes:
                shown.append("password")
            return f"{verb} {what} {self.name} ({', '.join(shown)})"
        return f"{verb} {what} {self.name}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    # Logins whose sessions are cut after the changes, by kind ("ppp", "hotspot").
    cut: dict[str, set[str]] = field(default_factory=lambda: {"ppp": set(), "hotspot": set()})

    @property
    def empty(self) -> bool:
        return not self.changes and not any(self.cut.values())


# ---------------------------------------------------------------------------------------
# Reading the router


async def read_all(client: RouterOSClient) -> dict[str, dict[str, list[Row]]]:
    """Every item of this ISP on the router, by menu and mark key."""
    held: dict[str, dict[str, list[Row]]] = {}
    for path in MENUS:
        by_key: dict[str, list[Row]] = {}
        for row in await client.ours(path):
            mark = client.mark_of(path, row)
            if mark is not None:
                by_key.setdefault(mark.key, []).append(row)
        held[path] = by_key
    return held


async def read_keys(
    client: RouterOSClient, wanted: dict[str, set[str]]
) -> dict[str, dict[str, list[Row]]]:
    """This ISP's items under the given keys only, by menu and key."""
    held: dict[str, dict[str, list[Row]]] = {}
    for path, keys in wanted.items():
        for key in sorted(keys):
            held.setdefault(path, {})[key] = await client.by_key(path, key)
    return held


# ---------------------------------------------------------------------------------------
# Comparing


def _same_target(current: str, wanted: str) -> bool:
    try:
        now = {ipaddress.ip_interface(part.strip()) for part in current.split(",") if part}
        new = {ipaddress.ip_interface(part.strip()) for part in wanted.split(",") if part}
    except ValueError:
        return False
    return now == new


def _same(name: str, current: str, wanted: str) -> bool:
    if same_value(name, current, wanted):
        return True
    if name == "target":
        return _same_target(current, wanted)
    if name == "rate-limit":
        return " ".join(current.split()) == " ".join(wanted.split())
    return False


def differences(row: Row, item: Item, marking: dict[str, str]) -> dict[str, str]:
    wanted = {**item.attributes, **marking}
    if "password" not in row:
        # The API user may not see passwords (no "sensitive" policy): an unreadable
        # password is taken as right rather than written again on every sync.
        wanted.pop("password", None)
    return {k: v for k, v in wanted.items() if not _same(k, row.get(k, ""), v)}


def plan(
    client: RouterOSClient,
    desired: DesiredState,
    held: dict[str, dict[str, list[Row]]],
    *,
    remove_unwanted_profiles: bool,
) -> Plan:
    """The changes that make `held` (this ISP's items as read) into `desired`.

    `held` covers the keys that were read: an item under a key not read is not known and
    so not touched. Profiles (and router-wide items) no service uses any more are removed
    only in a full sync (`remove_unwanted_profiles`): one service's sync cannot know what
    the others use.
    """
    result = Plan()
    upserts: list[Change] = []
    removals: list[Change] = []
    for path in MENUS:
        wanted = desired.in_menu(path)
        found = held.get(path, {})
        for key, item in wanted.items():
            rows = found.get(key, [])
            if (path, key) in desired.untouchable:
                continue
            if not rows:
                upserts.append(
                    Change("add", path, key, item.name, attributes=_with_mark(client, item))
                )
                continue
            first, *extra = rows
            changes = differences(first, item, client.marking(path, key))
            if changes:
                renamed = "name" in changes and first.get("name")
                upserts.append(
                    Change(
                        "set",
                        path,
                        key,
                        item.name,
                        first[".id"],
                        changes,
                        cut_first=_cut_first(path, first, desired) if renamed else None,
                    )
                )
            # Two items under one key (left by a run cut short): the first one stays.
            removals.extend(_removal(path, key, row, desired) for row in extra)
        for key, rows in found.items():
            if key in wanted or (path, key) in desired.untouchable:
                continue
            if path in SHARED_MENUS and not remove_unwanted_profiles:
                continue
            removals.extend(_removal(path, key, row, desired) for row in rows)
    # Profiles and router-wide rules first, as secrets and users name the profiles (and a
    # suspended address means nothing without the rule); an item that goes makes way
    # before one that comes (a username freed by one service and taken by another);
    # profiles no longer named by anything go last.
    result.changes = (
        [c for c in upserts if c.path in SHARED_MENUS]
        + [c for c in removals if c.path not in SHARED_MENUS]
        + [c for c in upserts if c.path not in SHARED_MENUS]
        + [c for c in removals if c.path in SHARED_MENUS]
    )
    for kind, logins in desired.cut_logins.items():
        result.cut[kind] |= logins
    for kind in result.cut:
        result.cut[kind] -= desired.live_logins[kind]
    return result


def _with_mark(client: RouterOSClient, item: Item) -> dict[str, str]:
    return {**item.attributes, **client.marking(item.path, item.key)}


def _cut_first(path: str, row: Row, desired: DesiredState) -> tuple[str, str] | None:
    """The login whose sessions go before this item is removed or renamed: none when its
    name is still wanted by an active service (freed by one, taken by another)."""
    kind, name = LOGIN_MENUS.get(path), row.get("name")
    if kind is None or not name or name in desired.live_logins[kind]:
        return None
    return kind, name


def _removal(path: str, key: str, row: Row, desired: DesiredState) -> Change:
    return Change(
        "remove", path, key, _name(row), row[".id"], cut_first=_cut_first(path, row, desired)
    )


def _name(row: Row) -> str:
    return row.get("name") or row.get("address") or row.get(".id", "?")


# ---------------------------------------------------------------------------------------
# Applying


async def apply_plan(client: RouterOSClient, work: Plan, *, few_logins: bool) -> list[str]:
    """Sends the plan's changes, then cuts the sessions it names. Returns what was done;
    raises ProvisioningRefused after the run when the router refused any of it.
    RouterUnreachable and RouterAuthFailed end the run at once.

    `few_logins`: look each login's sessions up by name (one service) rather than read
    every session once (a whole router)."""
    done: list[str] = []
    problems: list[str] = []
    for change in work.changes:
        try:
            if change.cut_first is not None:
                # Once the item is gone or renamed, nothing on the router says whose the
                # sessions under its old name were.
                kind, login = change.cut_first
                cut = await client.cut_own_sessions(SESSIONS[kind], [login])
                done.extend(f"cut {kind} session of {name}" for name in cut)
            if change.op == "add" and change.path in FIRST_IN_MENUS:
                await client.add_first(change.path, **change.attributes)
            elif change.op == "add":
                await client.add(change.path, **change.attributes)
            elif change.op == "set":
                await client.set(change.path, change.item_id, **change.attributes)
            else:
                await client.remove(change.path, change.item_id)
        except RouterTrap as trap:
            if change.op == "remove" and trap.message == "no such item":
                continue  # gone meanwhile: what was wanted
            problems.append(f"{change.op} {change.subject()}: {trap.message}")
            continue
        done.append(change.describe())
    for kind, logins in work.cut.items():
        if not logins:
            continue
        try:
            cut = await client.cut_own_sessions(SESSIONS[kind], logins, one_by_one=few_logins)
        except RouterTrap as trap:
            problems.append(f"cutting {kind} sessions: {trap.message}")
            continue
        done.extend(f"cut {kind} session of {login}" for login in cut)
    if problems:
        raise ProvisioningRefused(problems, done)
    return done


def service_keys(desired: DesiredState, service_key: str) -> dict[str, set[str]]:
    """The keys one service's sync reads: its own in every item menu, and its package's
    profile (or the router-wide rule) where it needs one."""
    keys = {path: {service_key} for path in ITEM_MENUS}
    for path, key in desired.items:
        if path in SHARED_MENUS:
            keys.setdefault(path, set()).add(key)
    return keys


__all__ = [
    "Change",
    "Plan",
    "ProvisioningRefused",
    "apply_plan",
    "differences",
    "plan",
    "read_all",
    "read_keys",
    "service_keys",
]
