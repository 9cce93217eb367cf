"""The menus an emulated router keeps, with the checks RouterOS makes on them.

Values are kept as RouterOS shows them over the API: strings, booleans as "true"/"false",
unset properties absent. Ids are "*" and upper-case hex, counted per menu, as RouterOS does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TRUE_WORDS = {"yes": "true", "true": "true", "no": "false", "false": "false"}


class Trap(Exception):
    """A command RouterOS refuses: answered with !trap, then !done."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


# RouterOS's trap categories (the API manual's list).
MISSING_ITEM_OR_COMMAND = 0
ARGUMENT_VALUE_FAILURE = 1
GENERAL_FAILURE = 4


def no_such_item() -> Trap:
    return Trap("no such item", MISSING_ITEM_OR_COMMAND)


@dataclass(frozen=True)
class MenuSpec:
    path: str
    settable: frozenset[str]
    read_only: frozenset[str] = frozenset()
    defaults: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    # Properties that together name one item; None: items need not be distinct.
    unique: tuple[str, ...] | None = ("name",)
    duplicate_message: str = "failure: already have such name"
    booleans: frozenset[str] = frozenset({"disabled"})
    # "upload/download" rates, which RouterOS keeps (and prints) in bits per second
    rates: frozenset[str] = frozenset()
    # property → menu whose item names it must match
    references: Mapping[str, str] = field(default_factory=dict)
    can_add: bool = True
    # RouterOS names an unnamed simple queue queue1, queue2, …
    auto_name: str | None = None
    # Items present on a router from the start: (id, properties)
    builtin: tuple[tuple[str, Mapping[str, str]], ...] = ()
    # property → the values RouterOS accepts for it
    choices: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Items are kept in an order that matters (firewall rules): `add` takes place-before.
    ordered: bool = False


def _names(*groups: str) -> frozenset[str]:
    return frozenset(name for group in groups for name in group.split())


HOTSPOT_PROFILE = "/ip/hotspot/user/profile"
HOTSPOT_USER = "/ip/hotspot/user"
HOTSPOT_ACTIVE = "/ip/hotspot/active"
PPP_PROFILE = "/ppp/profile"
PPP_SECRET = "/ppp/secret"
PPP_ACTIVE = "/ppp/active"
SIMPLE_QUEUE = "/queue/simple"
ADDRESS_LIST = "/ip/firewall/address-list"
FIREWALL_FILTER = "/ip/firewall/filter"

# The actions RouterOS 7 documents for a filter rule.
FILTER_ACTIONS = frozenset(
    "accept add-dst-to-address-list add-src-to-address-list drop fasttrack-connection jump "
    "log passthrough reject return tarpit".split()
)

_PROFILE_DEFAULTS = {"shared-users": "1", "idle-timeout": "none", "keepalive-timeout": "2m",
                     "status-autorefresh": "1m", "transparent-proxy": "false",
                     "add-mac-cookie": "true", "mac-cookie-timeout": "3d"}  # fmt: skip

MENUS: tuple[MenuSpec, ...] = (
    MenuSpec(
        HOTSPOT_PROFILE,
        settable=_names(
            "name rate-limit shared-users session-timeout idle-timeout keepalive-timeout",
            "address-pool address-list status-autorefresh transparent-proxy add-mac-cookie",
            "mac-cookie-timeout open-status-page on-login on-logout incoming-filter",
            "outgoing-filter incoming-packet-mark outgoing-packet-mark parent-queue",
            "queue-type insert-queue-before advertise advertise-interval advertise-timeout",
            "advertise-url",
        ),  # no comment: RouterOS has none on this menu
        read_only=_names("default"),
        defaults=_PROFILE_DEFAULTS,
        required=("name",),
        booleans=frozenset({"transparent-proxy", "add-mac-cookie", "advertise"}),
        builtin=(("*0", {"name": "default", "default": "true", **_PROFILE_DEFAULTS}),),
    ),
    MenuSpec(
        HOTSPOT_USER,
        settable=_names(
            "name password profile server mac-address address email routes comment",
            "limit-uptime limit-bytes-in limit-bytes-out limit-bytes-total disabled",
        ),
        read_only=_names("uptime bytes-in bytes-out packets-in packets-out dynamic default"),
        defaults={
            "profile": "default",
            "server": "all",
            "disabled": "false",
            "uptime": "0s",
            "bytes-in": "0",
            "bytes-out": "0",
            "packets-in": "0",
            "packets-out": "0",
            "dynamic": "false",
        },  # fmt: skip
        required=("name",),
        unique=("name", "server"),
        duplicate_message="failure: already have user with this name for this server",
        references={"profile": HOTSPOT_PROFILE},
    ),
    MenuSpec(
        HOTSPOT_ACTIVE,
        settable=frozenset(),
        read_only=_names(
            "server user domain address mac-address login-by uptime idle-time",
            "session-time-left idle-timeout keepalive-timeout bytes-in bytes-out",
            "packets-in packets-out radius blocked comment",
        ),
        unique=None,
        booleans=frozenset({"radius", "blocked"}),
        can_add=False,
    ),
    MenuSpec(
        PPP_PROFILE,
        settable=_names(
            "name local-address remote-address rate-limit dns-server wins-server only-one",
            "address-list parent-queue insert-queue-before queue-type session-timeout",
            "idle-timeout use-encryption use-compression use-mpls change-tcp-mss bridge",
            "incoming-filter outgoing-filter on-up on-down comment",
        ),
        read_only=_names("default"),
        defaults={
            "only-one": "default",
            "use-encryption": "default",
            "change-tcp-mss": "default",
        },  # fmt: skip
        required=("name",),
        builtin=(
            (
                "*0",
                {
                    "name": "default",
                    "default": "true",
                    "only-one": "default",
                    "use-encryption": "default",
                    "change-tcp-mss": "yes",
                },
            ),
            (
                "*FFFFFFFE",
                {
                    "name": "default-encryption",
                    "default": "true",
                    "only-one": "default",
                    "use-encryption": "yes",
                    "change-tcp-mss": "yes",
                },
            ),
        ),  # fmt: skip
    ),
    MenuSpec(
        PPP_SECRET,
        settable=_names(
            "name password service profile local-address remote-address caller-id routes",
            "limit-bytes-in limit-bytes-out ipv6-routes comment disabled",
        ),
        read_only=_names("last-logged-out last-caller-id last-disconnect-reason"),
        defaults={
            "service": "any",
            "profile": "default",
            "disabled": "false",
            "caller-id": "",
            "routes": "",
            "limit-bytes-in": "0",
            "limit-bytes-out": "0",
            "last-logged-out": "1970-01-01 00:00:00",
        },  # fmt: skip
        required=("name",),
        duplicate_message="failure: secret with the same name already exists",
        references={"profile": PPP_PROFILE},
    ),
    MenuSpec(
        PPP_ACTIVE,
        settable=frozenset(),
        read_only=_names(
            "name service caller-id address uptime encoding session-id",
            "limit-bytes-in limit-bytes-out radius comment",
        ),
        unique=None,
        booleans=frozenset({"radius"}),
        can_add=False,
    ),
    MenuSpec(
        SIMPLE_QUEUE,
        settable=_names(
            "name target dst max-limit limit-at burst-limit burst-threshold burst-time",
            "parent priority queue packet-marks time bucket-size comment disabled",
        ),
        read_only=_names("dynamic invalid rate packet-rate bytes packets"),
        defaults={
            "max-limit": "0/0",
            "limit-at": "0/0",
            "burst-limit": "0/0",
            "burst-threshold": "0/0",
            "burst-time": "0s/0s",
            "parent": "none",
            "priority": "8/8",
            "queue": "default-small/default-small",
            "disabled": "false",
            "dynamic": "false",
            "invalid": "false",
            "bucket-size": "0.1/0.1",
        },  # fmt: skip
        required=("target",),
        booleans=frozenset({"disabled", "dynamic", "invalid"}),
        rates=frozenset({"max-limit", "limit-at", "burst-limit", "burst-threshold"}),
        auto_name="queue",
    ),
    MenuSpec(
        ADDRESS_LIST,
        settable=_names("list address timeout comment disabled"),
        read_only=_names("creation-time dynamic"),
        defaults={"disabled": "false", "dynamic": "false"},
        required=("list", "address"),
        unique=("list", "address"),
        duplicate_message="failure: already have such entry",
        booleans=frozenset({"disabled", "dynamic"}),
    ),
    MenuSpec(
        FIREWALL_FILTER,
        settable=_names(
            "chain action comment disabled log log-prefix jump-target reject-with",
            "src-address dst-address src-address-list dst-address-list src-address-type",
            "dst-address-type protocol src-port dst-port port in-interface out-interface",
            "in-interface-list out-interface-list connection-state connection-nat-state",
            "connection-mark packet-mark routing-mark connection-limit connection-rate",
            "connection-bytes connection-type address-list address-list-timeout limit",
            "dst-limit icmp-options tcp-flags tcp-mss packet-size ttl dscp priority",
            "src-mac-address layer7-protocol content hotspot ipsec-policy fragment nth random",
            "per-connection-classifier psd time tls-host hw-offload in-bridge-port",
            "out-bridge-port in-bridge-port-list out-bridge-port-list ingress-priority",
            "ipv4-options p2p realm",
        ),
        read_only=_names("dynamic invalid bytes packets"),
        defaults={
            "action": "accept",
            "disabled": "false",
            "log": "false",
            "log-prefix": "",
            "dynamic": "false",
            "invalid": "false",
            "bytes": "0",
            "packets": "0",
        },  # fmt: skip
        required=("chain",),
        unique=None,
        booleans=frozenset({"disabled", "log", "dynamic", "invalid"}),
        choices={"action": FILTER_ACTIONS},
        ordered=True,
    ),
)


_UNITS = {"": 1, "k": 1_000, "K": 1_000, "M": 1_000_000, "G": 1_000_000_000}


def _bits_pair(key: str, value: str) -> str:
    """'5M/10M' → '5000000/10000000'; one figure sets both directions."""
    parts = value.split("/")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise Trap(f"invalid value for argument {key}", ARGUMENT_VALUE_FAILURE)
    figures = []
    for part in parts:
        number, unit = part.strip(), ""
        if number[-1:] in _UNITS:
            number, unit = number[:-1], number[-1]
        try:
            figures.append(str(int(float(number) * _UNITS[unit])))
        except ValueError:
            raise Trap(f"invalid value for argument {key}", ARGUMENT_VALUE_FAILURE) from None
    return "/".join(figures)


class Menu:
    """One menu's items, in the order they were added."""

    def __init__(self, spec: MenuSpec) -> None:
        self.spec = spec
        self.items: dict[str, dict[str, str]] = {}
        self._next_id = 1
        for item_id, values in spec.builtin:
            self.items[item_id] = self._normalised(values)

    def new_id(self) -> str:
        item_id = f"*{self._next_id:X}"
        self._next_id += 1
        return item_id

    def _normalised(self, values: Mapping[str, str]) -> dict[str, str]:
        booleans = self.spec.booleans | {"default", "dynamic"}
        return {
            key: TRUE_WORDS.get(value, value) if key in booleans else value
            for key, value in values.items()
        }

    def check_value(self, key: str, value: str) -> str:
        if value == "":
            return value  # unsets the property
        if key in self.spec.booleans or key == "disabled":
            try:
                return TRUE_WORDS[value.lower()]
            except KeyError:
                raise Trap(f"value of {key} must be yes or no", ARGUMENT_VALUE_FAILURE) from None
        if key in self.spec.rates:
            return _bits_pair(key, value)
        return value

    def find(self, reference: str) -> str:
        """An item's id from its id or, as RouterOS also accepts, its name."""
        if reference in self.items:
            return reference
        for item_id, item in self.items.items():
            if reference and item.get("name") == reference:
                return item_id
        raise no_such_item()

    def ids(self, references: str) -> list[str]:
        """Comma-separated ids (or names), all checked before anything is done."""
        parts = [part.strip() for part in references.split(",") if part.strip()]
        if not parts:
            raise no_such_item()
        return [self.find(part) for part in parts]

    def duplicate_of(self, candidate: Mapping[str, str], except_id: str | None = None) -> bool:
        unique = self.spec.unique
        if unique is None:
            return False
        key = tuple(candidate.get(name, "") for name in unique)
        return any(
            item_id != except_id and tuple(item.get(name, "") for name in unique) == key
            for item_id, item in self.items.items()
        )

    def move_before(self, item_id: str, before_id: str) -> None:
        order = [key for key in self.items if key != item_id]
        order.insert(order.index(before_id), item_id)
        self.items = {key: self.items[key] for key in order}

    def next_auto_name(self) -> str:
        taken = {item.get("name") for item in self.items.values()}
        number = 1
        while f"{self.spec.auto_name}{number}" in taken:
            number += 1
        return f"{self.spec.auto_name}{number}"


class Menus:
    """All menus of one router, with RouterOS's checks on add, set and remove."""

    def __init__(self, specs: Iterable[MenuSpec] = MENUS) -> None:
        self.menus = {spec.path: Menu(spec) for spec in specs}

    def __contains__(self, path: str) -> bool:
        return path in self.menus

    def __getitem__(self, path: str) -> Menu:
        return self.menus[path]

    def rows(self, path: str) -> list[dict[str, str]]:
        return [{".id": item_id, **item} for item_id, item in self.menus[path].items.items()]

    def _checked(self, menu: Menu, attributes: Mapping[str, str]) -> dict[str, str]:
        checked = {}
        for key, value in attributes.items():
            if key not in menu.spec.settable:
                raise Trap(f"unknown parameter {key}", ARGUMENT_VALUE_FAILURE)
            checked[key] = menu.check_value(key, value)
            allowed = menu.spec.choices.get(key)
            if allowed is not None and checked[key] not in allowed:
                raise Trap(f"input does not match any value of {key}", ARGUMENT_VALUE_FAILURE)
        for key, target in menu.spec.references.items():
            if key in checked and not any(
                item.get("name") == checked[key] for item in self.menus[target].items.values()
            ):
                raise Trap(f"input does not match any value of {key}", ARGUMENT_VALUE_FAILURE)
        return checked

    def add(self, path: str, attributes: Mapping[str, str], *, internal: bool = False) -> str:
        menu = self.menus[path]
        values = dict(attributes)
        # Where a rule goes in an ordered menu: said on add, never stored.
        place_before = values.pop("place-before", None) if menu.spec.ordered else None
        if place_before is not None:
            place_before = menu.find(place_before)
        if not internal:
            values = self._checked(menu, values)
        if menu.spec.auto_name and not values.get("name"):
            values["name"] = menu.next_auto_name()
        for name in menu.spec.required:
            if not values.get(name):
                raise Trap(f"failure: {name} not specified", GENERAL_FAILURE)
        item = {k: v for k, v in values.items() if v != ""}
        item.update({k: v for k, v in menu.spec.defaults.items() if k not in values})
        if menu.duplicate_of(item):
            raise Trap(menu.spec.duplicate_message)
        item_id = menu.new_id()
        menu.items[item_id] = menu._normalised(item)
        if place_before is not None:
            menu.move_before(item_id, place_before)
        return item_id

    def set(self, path: str, references: str, attributes: Mapping[str, str]) -> None:
        menu = self.menus[path]
        item_ids = menu.ids(references)
        values = self._checked(menu, attributes)
        changed = {}
        for item_id in item_ids:
            item = dict(menu.items[item_id])
            if item.get("default") == "true" and values.get("name", item.get("name")) != item.get(
                "name"
            ):
                raise Trap("failure: cannot rename default", GENERAL_FAILURE)
            for key, value in values.items():
                if value == "" and key not in menu.spec.required:
                    item.pop(key, None)
                else:
                    item[key] = value
            if menu.duplicate_of(item, except_id=item_id):
                raise Trap(menu.spec.duplicate_message)
            changed[item_id] = item
        menu.items.update(changed)

    def remove(self, path: str, references: str) -> None:
        menu = self.menus[path]
        item_ids = menu.ids(references)
        for item_id in item_ids:
            if menu.items[item_id].get("default") == "true":
                raise Trap("failure: cannot remove default", GENERAL_FAILURE)
        for item_id in item_ids:
            del menu.items[item_id]
