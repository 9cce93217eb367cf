"""A MikroTik router, emulated: the RouterOS API sentence protocol over TCP (or TLS, as
api-ssl), with the menus Kiunga provisions kept in memory.

Start it with `kiunga emulator routeros --port 8728 --user admin --password secret`,
`run_emulator(...)`, or in a test with `RouterEmulator()` (a background thread on a free
port). Each `RouterEmulator` is one router.

Menus: /ip/hotspot/user/profile, /ip/hotspot/user, /ip/hotspot/active, /ppp/profile,
/ppp/secret, /ppp/active, /queue/simple, /ip/firewall/address-list, /ip/firewall/filter
(print, add, set, remove, enable, disable), /system/identity (print, set), /system/resource
(print). Each menu takes only the properties RouterOS 7 documents for it (`tables`; when
unsure a property is left out): any other is refused with "unknown parameter <name>", as
the router refuses it; read-only ones (a session's counters) are printed but never set.
Booleans are printed true/false. A hotspot user profile has no comment on RouterOS, so it
has none here either. Filter rules keep their order (`place-before` on add).

The protocol as RouterOS 7 speaks it: plain /login (and the pre-6.43 MD5 challenge), a
wrong password answered by !trap "invalid user name or password (6)" then !done; print with
=.proplist=, =count-only= and the ?-query stack; add answering =ret=*N; set/remove by
=.id= (ids or names, comma lists); .tag echoed on every reply; !empty before !done for an
empty print (RouterOS 7.18+, `empty_replies=False` for older); !fatal on /quit. RouterOS's
wording for refusals: "no such command prefix", "no such command", "no such item",
"failure: already have user with this name for this server", "failure: secret with the
same name already exists", "failure: already have such name", "failure: already have such
entry", "input does not match any value of profile".

Hooks for tests, on `RouterEmulator.state` (an `EmulatedRouter`): rows(path),
find(path, **equal), login_hotspot(user, …), login_ppp(name, …), forwards(address) (whether
the firewall lets a new connection from it through), fail_next(prefix,
message, category=None, times=1), commands (every sentence received after login);
on `RouterEmulator`: offline() (refuses connections, cuts open ones), unresponsive()
(accepts but never answers), online(), connection() (a `RouterConnection` to it).
"""

from kiunga.integrations.routeros.emulator.router import (
    LOGIN_FAILED,
    EmulatedRouter,
    Session,
    ros_duration,
)
from kiunga.integrations.routeros.emulator.server import (
    API_PORT,
    API_SSL_PORT,
    RouterAPIServer,
    RouterEmulator,
    run_emulator,
    self_signed_certificate,
)
from kiunga.integrations.routeros.emulator.tables import (
    ADDRESS_LIST,
    FIREWALL_FILTER,
    HOTSPOT_ACTIVE,
    HOTSPOT_PROFILE,
    HOTSPOT_USER,
    MENUS,
    PPP_ACTIVE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    MenuSpec,
    Trap,
)

__all__ = [
    "ADDRESS_LIST",
    "API_PORT",
    "API_SSL_PORT",
    "FIREWALL_FILTER",
    "HOTSPOT_ACTIVE",
    "HOTSPOT_PROFILE",
    "HOTSPOT_USER",
    "LOGIN_FAILED",
    "MENUS",
    "PPP_ACTIVE",
    "PPP_PROFILE",
    "PPP_SECRET",
    "SIMPLE_QUEUE",
    "EmulatedRouter",
    "MenuSpec",
    "RouterAPIServer",
    "RouterEmulator",
    "Session",
    "Trap",
    "ros_duration",
    "run_emulator",
    "self_signed_certificate",
]
