"""One emulated router: its menus, identity and resources, its API users, and what a test may
do to it from Python (log a subscriber in, make the next command fail).

`Session` answers one API connection's sentences; everything it touches is behind the
router's lock, so tests may poke the router from their own thread while clients talk to it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kiunga.integrations.routeros.emulator.query import compile_query, project
from kiunga.integrations.routeros.emulator.tables import (
    ADDRESS_LIST,
    FIREWALL_FILTER,
    HOTSPOT_ACTIVE,
    HOTSPOT_USER,
    MISSING_ITEM_OR_COMMAND,
    PPP_ACTIVE,
    PPP_SECRET,
    Menus,
    Trap,
)

IDENTITY = "/system/identity"
RESOURCE = "/system/resource"
LOGIN_FAILED = "invalid user name or password (6)"
MAX_LOGGED_COMMANDS = 10_000
# What a filter rule may say without saying which packets it matches.
_RULE_SETTINGS = {".id", "chain", "action", "comment", "disabled", "log", "log-prefix",
                  "dynamic", "invalid", "bytes", "packets", "reject-with"}  # fmt: skip
_DROPPING = {"drop", "reject", "tarpit"}

Sentence = list[str]


@dataclass
class InjectedTrap:
    prefix: str
    message: str
    category: int | None
    remaining: int


def ros_duration(seconds: float) -> str:
    """RouterOS's way of writing a duration: 1w2d3h4m5s."""
    left = int(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    if left or not parts:
        parts.append(f"{left}s")
    return "".join(parts)


class EmulatedRouter:
    """The state of one router. Thread-safe; tests call its methods directly."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        identity: str = "MikroTik",
        version: str = "7.18.2 (stable)",
        board_name: str = "hAP ax^2",
        empty_replies: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.users = dict(users if users is not None else {"admin": ""})
        self.menus = Menus()
        self.identity = identity
        self.empty_replies = empty_replies
        self.started = time.monotonic()
        self.resource: dict[str, str] = {
            "version": version,
            "build-time": "2025-03-11 11:59:04",
            "free-memory": "512000000",
            "total-memory": "1073741824",
            "cpu": "ARM64",
            "cpu-count": "4",
            "cpu-frequency": "1350",
            "cpu-load": "3",
            "free-hdd-space": "100000000",
            "total-hdd-space": "134217728",
            "architecture-name": "arm64",
            "board-name": board_name,
            "platform": "MikroTik",
        }
        self.injected: list[InjectedTrap] = []
        self.commands: list[Sentence] = []  # every sentence received after login, in order
        self.login_attempts: list[str] = []  # the user names /login was tried with

    # -- what tests do -------------------------------------------------------------

    def rows(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return self.menus.rows(path)

    def find(self, path: str, **equal: str) -> list[dict[str, str]]:
        """Rows whose properties (underscores for dashes) equal the given strings."""
        wanted = {key.replace("_", "-"): value for key, value in equal.items()}
        return [
            row
            for row in self.rows(path)
            if all(row.get(key) == value for key, value in wanted.items())
        ]

    def login_hotspot(
        self,
        user: str,
        *,
        address: str = "10.5.50.10",
        mac_address: str = "02:00:00:00:00:01",
        server: str = "hotspot1",
        uptime: str = "1m",
    ) -> str:
        """A hotspot user logs in: a row in /ip/hotspot/active. Returns its id."""
        session = {
            "server": server,
            "user": user,
            "address": address,
            "mac-address": mac_address,
            "login-by": "http-chap",
            "uptime": uptime,
            "idle-time": "0s",
            "bytes-in": "0",
            "bytes-out": "0",
        }
        return self._log_in(HOTSPOT_ACTIVE, session, HOTSPOT_USER, user)

    def login_ppp(
        self,
        name: str,
        *,
        address: str = "10.10.0.10",
        caller_id: str = "02:00:00:00:00:02",
        service: str = "pppoe",
        uptime: str = "1m",
    ) -> str:
        """A PPP client connects: a row in /ppp/active. Returns its id."""
        session = {
            "name": name,
            "service": service,
            "caller-id": caller_id,
            "address": address,
            "uptime": uptime,
            "encoding": "",
            "session-id": f"0x{secrets.randbelow(1 << 32):08X}",
        }
        return self._log_in(PPP_ACTIVE, session, PPP_SECRET, name)

    def _log_in(self, active: str, session: dict[str, str], users: str, name: str) -> str:
        """A row in the `active` menu; it came through RADIUS unless `name` is a local user
        (a row of the `users` menu)."""
        with self.lock:
            local = bool(self.find(users, name=name))
            return self.menus.add(
                active, {**session, "radius": "false" if local else "true"}, internal=True
            )

    def forwards(self, source: str) -> bool:
        """Whether the router would forward a new connection from `source`: the forward
        chain's enabled rules in order, the first that matches deciding (accept, or drop,
        reject, tarpit); none matching, RouterOS forwards it. A rule that matches on
        anything but the source address or source address list is taken as not matching
        (it cannot be told to match here), so only a rule that plainly drops the source
        cuts it off."""
        with self.lock:
            for rule in self.menus.rows(FIREWALL_FILTER):
                if rule.get("chain") != "forward" or rule.get("disabled") == "true":
                    continue
                if not self._rule_matches(rule, source):
                    continue
                action = rule.get("action", "accept")
                if action == "accept":
                    return True
                if action in _DROPPING:
                    return False
            return True

    def _rule_matches(self, rule: Mapping[str, str], source: str) -> bool:
        conditions = {k: v for k, v in rule.items() if k not in _RULE_SETTINGS}
        address_list = conditions.pop("src-address-list", None)
        address = conditions.pop("src-address", None)
        if conditions:
            return False
        if address is not None and not _within(source, address):
            return False
        if address_list is not None:
            return any(
                entry.get("list") == address_list
                and entry.get("disabled") != "true"
                and _within(source, entry.get("address", ""))
                for entry in self.menus.rows(ADDRESS_LIST)
            )
        return True

    def fail_next(
        self, prefix: str, message: str, *, category: int | None = None, times: int = 1
    ) -> None:
        """The next `times` commands starting with `prefix` (e.g. "/ppp/secret/add") trap."""
        with self.lock:
            self.injected.append(InjectedTrap(prefix, message, category, times))

    def clear_faults(self) -> None:
        with self.lock:
            self.injected.clear()

    # -- the API -------------------------------------------------------------------

    def record(self, sentence: Sentence) -> None:
        self.commands.append(sentence)
        if len(self.commands) > MAX_LOGGED_COMMANDS:  # a long-running emulator (kiunga up)
            del self.commands[: MAX_LOGGED_COMMANDS // 2]

    def _take_injected(self, command: str) -> InjectedTrap | None:
        for fault in self.injected:
            if command.startswith(fault.prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.injected.remove(fault)
                return fault
        return None

    def resource_row(self) -> dict[str, str]:
        row = {"uptime": ros_duration(time.monotonic() - self.started), **self.resource}
        return row


class Session:
    """One API connection: login state and answers to each sentence."""

    def __init__(self, router: EmulatedRouter) -> None:
        self.router = router
        self.user: str | None = None
        self.challenge: bytes | None = None

    def answer(self, words: Sentence) -> tuple[list[Sentence], bool]:
        """The reply sentences to one command, and whether to close the connection after."""
        command = words[0]
        tag: str | None = None
        attributes: dict[str, str] = {}
        queries: list[str] = []
        for word in words[1:]:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")
                attributes[key] = value
            elif word.startswith("?"):
                queries.append(word)
            elif word.startswith(".tag="):
                tag = word[len(".tag=") :]

        replies, close = self._dispatch(command, attributes, queries)
        if tag is not None:
            replies = [[reply[0], f".tag={tag}", *reply[1:]] for reply in replies]
        return replies, close

    def _dispatch(
        self, command: str, attributes: dict[str, str], queries: list[str]
    ) -> tuple[list[Sentence], bool]:
        router = self.router
        if command == "/quit":
            return [["!fatal", "session terminated on request"]], True
        if command == "/login":
            return self._login(attributes), False
        if self.user is None:
            return [["!fatal", "not logged in"]], True
        with router.lock:
            router.record([command, *(f"={k}={v}" for k, v in attributes.items())])
            fault = router._take_injected(command)
            if fault is not None:
                return _trap(fault.message, fault.category), False
            if command == "/cancel":
                return [["!done"]], False
            try:
                return self._run(command, attributes, queries), False
            except Trap as trap:
                return _trap(trap.message, trap.category), False

    def _login(self, attributes: dict[str, str]) -> list[Sentence]:
        users = self.router.users
        name = attributes.get("name")
        if name is not None:
            with self.router.lock:
                self.router.login_attempts.append(name)
                del self.router.login_attempts[:-MAX_LOGGED_COMMANDS]
        if name is None:
            # Before 6.43: the router hands out a challenge for an MD5 response.
            self.challenge = secrets.token_bytes(16)
            return [["!done", f"=ret={self.challenge.hex()}"]]
        if "response" in attributes and self.challenge is not None and name in users:
            digest = hashlib.md5(
                b"\x00" + users[name].encode() + self.challenge, usedforsecurity=False
            ).hexdigest()
            ok = attributes["response"] == "00" + digest
        else:
            ok = name in users and attributes.get("password", "") == users[name]
        if not ok:
            return _trap(LOGIN_FAILED)
        self.user = name
        return [["!done"]]

    def _run(self, command: str, attributes: dict[str, str], queries: list[str]) -> list[Sentence]:
        router = self.router
        menu_path, _, verb = command.rpartition("/")
        if menu_path == IDENTITY:
            if verb in ("print", "getall"):
                return self._print([{"name": router.identity}], attributes, queries, set())
            if verb == "set":
                unknown = set(attributes) - {"name"}
                if unknown:
                    raise Trap(f"unknown parameter {sorted(unknown)[0]}", 1)
                router.identity = attributes.get("name", router.identity)
                return [["!done"]]
            raise Trap("no such command", MISSING_ITEM_OR_COMMAND)
        if menu_path == RESOURCE:
            if verb in ("print", "getall"):
                return self._print([router.resource_row()], attributes, queries, set())
            raise Trap("no such command", MISSING_ITEM_OR_COMMAND)
        if menu_path not in router.menus:
            raise Trap("no such command prefix", MISSING_ITEM_OR_COMMAND)
        menus = router.menus
        spec = menus[menu_path].spec
        if verb in ("print", "getall"):
            return self._print(menus.rows(menu_path), attributes, queries, spec.booleans)
        if verb == "add" and spec.can_add:
            return [["!done", f"=ret={menus.add(menu_path, attributes)}"]]
        if verb == "set" and spec.settable:
            references = attributes.pop(".id", None) or attributes.pop("numbers", "")
            menus.set(menu_path, references, attributes)
            return [["!done"]]
        if verb in ("enable", "disable") and "disabled" in spec.settable:
            references = attributes.get(".id") or attributes.get("numbers", "")
            disabled = "yes" if verb == "disable" else "no"
            menus.set(menu_path, references, {"disabled": disabled})
            return [["!done"]]
        if verb == "remove":
            menus.remove(menu_path, attributes.get(".id") or attributes.get("numbers", ""))
            return [["!done"]]
        raise Trap("no such command", MISSING_ITEM_OR_COMMAND)

    def _print(
        self,
        rows: list[dict[str, str]],
        attributes: dict[str, str],
        queries: list[str],
        booleans: frozenset[str] | set[str],
    ) -> list[Sentence]:
        matches = compile_query(queries, frozenset(booleans))
        found = [row for row in rows if matches(row)]
        if attributes.get("count-only") is not None:
            return [["!done", f"=ret={len(found)}"]]
        proplist = attributes.get(".proplist")
        names = [name for name in proplist.split(",") if name] if proplist is not None else None
        replies: list[Sentence] = [
            ["!re", *(f"={key}={value}" for key, value in project(row, names).items())]
            for row in found
        ]
        if not replies and self.router.empty_replies:
            replies.append(["!empty"])
        replies.append(["!done"])
        return replies


def _within(address: str, entry: str) -> bool:
    """Whether `address` is `entry` (an address, a prefix or a range a-b)."""
    try:
        ip = ipaddress.ip_address(address)
        if "-" in entry:
            low, high = (ipaddress.ip_address(part.strip()) for part in entry.split("-", 1))
            return low <= ip <= high
        return ip in ipaddress.ip_network(entry, strict=False)
    except (TypeError, ValueError):
        return False


def _trap(message: str, category: int | None = None) -> list[Sentence]:
    trap = ["!trap"]
    if category is not None:
        trap.append(f"=category={category}")
    trap.append(f"=message={message}")
    return [trap, ["!done"]]
