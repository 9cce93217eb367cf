"""Which login pages the portal will post a code to: only the ISP's own hotspots.

Anyone can post router parameters to /portal/login, and the portal answers with a signed
state that later posts a redeemed code to the state's `link-login-only`. Were any host
accepted, a link to the ISP's real portal carrying a stranger's state would send a
victim's code to the stranger. A hotspot's login page is on a private address (what the
router answers on inside the hotspot), on a router the ISP registered, or on a hotspot
DNS name the ISP set on the portal page.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from urllib.parse import urlsplit

from kiunga.channels.portal.settings import hotspot_host
from kiunga.channels.portal.state import RouterState
from kiunga.tenants.network.models import Router
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

# RFC 1918, shared address space (RFC 6598, carrier-grade NAT) and IPv6 unique local.
# Not link-local: 169.254.169.254 is where clouds keep their secrets.
HOTSPOT_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


async def registered_hosts(session: AsyncSession, hotspot_names: str) -> frozenset[str]:
    """The routers' addresses and the hotspot names set on the portal page."""
    hosts = set(hotspot_names.split())
    for address in await session.scalars(select(Router.address)):
        host = hotspot_host(address or "")
        if host:
            hosts.add(host)
    return frozenset(hosts)


def is_hotspot_url(url: str, registered: frozenset[str], *, allow_loopback: bool) -> bool:
    """`url` is on one of the ISP's hotspots (loopback too where allowed: development)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if hotspot_host(host) in registered:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return allow_loopback and host.rstrip(".") == "localhost"
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if allow_loopback and address.is_loopback:
        return True
    return any(address in network for network in HOTSPOT_NETWORKS)


def hotspot_state(
    state: RouterState | None, registered: frozenset[str], *, allow_loopback: bool
) -> RouterState | None:
    """The state when its login page is the ISP's own (its log-out link dropped unless it
    is too); None otherwise."""
    if state is None or not is_hotspot_url(
        state.login_url, registered, allow_loopback=allow_loopback
    ):
        return None
    if state.logout_url and not is_hotspot_url(
        state.logout_url, registered, allow_loopback=allow_loopback
    ):
        return dataclasses.replace(state, logout_url="")
    return state
