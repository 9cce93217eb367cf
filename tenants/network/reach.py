"""Which addresses Kiunga may open a connection to when an ISP names a router.

An ISP's admin types the router's address, so in production it must never lead Kiunga to
the machines it runs on or to a cloud's metadata service. A host name is resolved here and
every address it resolves to is checked; the connection then goes to the checked address,
so a second lookup (DNS rebinding) cannot swap it for another. Outside production the
emulated routers listen on loopback, so nothing is refused there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from kiunga.platform.settings import get_settings
from kiunga.tenants.network.validation import RouterError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Metadata services some clouds keep at addresses that are otherwise ordinary private ones.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


class AddressUnresolved(LookupError):
    """The router's host name resolves to nothing."""


def _unwrapped(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 reaches 127.0.0.1.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why a router may not be reached at `address`, or None when it may."""
    address = _unwrapped(address)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback or address.is_unspecified:
        return "this machine's own address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast or address.is_reserved:
        return "not a unicast address"
    if any(address in network for network in PRIVATE_NETWORKS):
        return None if allow_private else "a private address, which this installation refuses"
    if address.is_private:  # documentation, benchmarking and other special ranges
        return "a special-purpose address"
    return None


async def _resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressUnresolved(host) from error
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise AddressUnresolved(host)
    return addresses


async def checked_address(host: str) -> str:
    """The address to connect to for a router at `host`: in production the first address
    it resolves to, once every one of them is allowed; elsewhere `host` as it is.

    RouterError (field "address") when one is refused; AddressUnresolved when a host name
    resolves to nothing."""
    settings = get_settings()
    if not settings.is_production:
        return host
    addresses = await _resolve(host)
    for address in addresses:
        why = refusal(address, allow_private=settings.router_private_addresses)
        if why is not None:
            raise RouterError("address", f"{host} cannot be a router's address here: it is {why}")
    return addresses[0].compressed
