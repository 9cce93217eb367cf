"""What one api-mode router should hold for one ISP, computed from the database.

Which router holds a service (`serves`):

- a router with no site serves the whole ISP (a central PPPoE concentrator, say);
- a router at a site serves the subscribers of that site;
- a subscriber with no site is served by every router at a site where the service's package
  is offered (a package with no sites is offered everywhere).

What it holds, each item marked `kiunga:<slug>:<key>` with a key that never changes (in
/ip/hotspot/user/profile, which has no comment on RouterOS, the reserved name
`kiunga-<slug>-<key>` is the mark):

| service | menu | key | what |
|---|---|---|---|
| PPPoE | /ppp/profile | pkg-<package id> | `<slug>-pkg-<id>`, the package's rate-limit |
| PPPoE | /ppp/secret | svc-<service id> | username, password, profile; disabled unless active |
| hotspot | /ip/hotspot/user/profile | pkg-<package id> | `kiunga-<slug>-pkg-<id>`, rate-limit |
| | | | and shared-users |
| hotspot | /ip/hotspot/user | svc-<service id> | as the PPP secret; mac-address if bound, |
| | | | limit-bytes-total: a voucher's data cap |
| static | /queue/simple | svc-<service id> | target <ip>/32, max-limit: the package's rate |
| static, cut off | /ip/firewall/address-list | svc-<service id> | kiunga-suspended, <ip> |
| any static | /ip/firewall/filter | suspended-drop | forward chain: drop from kiunga-suspended |

Active, suspended and expired services are on the router (the last two disabled, or listed
as suspended); pending and terminated ones are not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from kiunga.integrations.routeros.client import (
    ADDRESS_LIST,
    FIREWALL_FILTER,
    HOTSPOT_USER,
    HOTSPOT_USER_PROFILE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    SUSPENDED_LIST,
)
from kiunga.integrations.routeros.marks import reserved_name
from kiunga.tenants.catalog.models import Package, ServiceType, package_sites
from kiunga.tenants.network.models import Router, RouterMode
from kiunga.tenants.services.credentials import decrypt_password
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

# On the router: present (active enabled, the others disabled or listed as suspended).
ON_ROUTER = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED, ServiceStatus.EXPIRED)
CUT_OFF = (ServiceStatus.SUSPENDED, ServiceStatus.EXPIRED)

# The menus a sync reads and writes, profiles first: a secret or user names its profile,
# so profiles are added before and removed after them.
PROFILE_MENUS = (PPP_PROFILE, HOTSPOT_USER_PROFILE)
# Items of the router as a whole rather than of one service.
ROUTER_MENUS = (FIREWALL_FILTER,)
# Shared by many services: added before the items that need them, and removed only by a
# full sync (one service's sync cannot know what the others need).
SHARED_MENUS = PROFILE_MENUS + ROUTER_MENUS
ITEM_MENUS = (PPP_SECRET, HOTSPOT_USER, SIMPLE_QUEUE, ADDRESS_LIST)
MENUS = SHARED_MENUS + ITEM_MENUS
SUSPENDED_DROP_KEY = "suspended-drop"


def service_key(service_id: int) -> str:
    return f"svc-{service_id}"


def package_key(package_id: int) -> str:
    return f"pkg-{package_id}"


def profile_name(tenant: str, package_id: int) -> str:
    # By id, not by the package's name: renaming a package must not rename (and so
    # briefly break) the profile every secret of that package points at.
    return f"{tenant}-pkg-{package_id}"


def hotspot_profile_name(tenant: str, package_id: int) -> str:
    # RouterOS has no comment on a hotspot user profile: the name itself is the mark.
    return reserved_name(tenant, package_key(package_id))


def queue_name(tenant: str, service_id: int) -> str:
    return f"{tenant}-svc-{service_id}"


@dataclass(frozen=True)
class Item:
    """One item Kiunga wants on a router: where, under which key, with which properties
    (RouterOS names and wire values; the mark, a comment or in a menu without comments the
    reserved name already given, is added when it is written)."""

    path: str
    key: str
    attributes: dict[str, str]

    @property
    def name(self) -> str:
        return self.attributes.get("name") or self.attributes.get("address") or self.key


def suspended_drop_rule() -> Item:
    """The rule that makes the suspended list mean something: without it a stock router
    lets a listed address through as before. Placed first in the forward chain (when
    added), ahead of the router's own accept rules, so established connections end too."""
    return Item(
        FIREWALL_FILTER,
        SUSPENDED_DROP_KEY,
        {
            "chain": "forward",
            "action": "drop",
            "src-address-list": SUSPENDED_LIST,
            "disabled": "no",
        },
    )


def _by_login_kind() -> dict[str, set[str]]:
    return {"ppp": set(), "hotspot": set()}


@dataclass
class DesiredState:
    """Items by (menu, key); `sessions_to_cut` are the PPP and hotspot logins that must not
    stay connected (their service is suspended, expired, terminated or gone)."""

    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    # Logins that must keep their sessions (an active service's username).
    live_logins: dict[str, set[str]] = field(default_factory=_by_login_kind)
    # Logins whose sessions are cut.
    cut_logins: dict[str, set[str]] = field(default_factory=_by_login_kind)
    # Keys of items left as they are (a service whose password cannot be read): never
    # changed nor removed while the problem lasts.
    untouchable: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items[(item.path, item.key)] = item

    def in_menu(self, path: str) -> dict[str, Item]:
        return {key: item for (menu, key), item in self.items.items() if menu == path}


# ---------------------------------------------------------------------------------------
# Which routers hold which services


def serves(
    router_site_id: int | None, subscriber_site_id: int | None, package_site_ids: Iterable[int]
) -> bool:
    """The rule in the module's docstring, for one router and one service."""
    if router_site_id is None:
        return True
    if subscriber_site_id is not None:
        return subscriber_site_id == router_site_id
    offered = set(package_site_ids)
    return not offered or router_site_id in offered


def _served_by(router_site_id: int | None) -> ColumnElement[bool]:
    """SQL form of `serves` for services joined with their subscriber."""
    if router_site_id is None:
        return true()
    package_has_sites = exists().where(package_sites.c.package_id == Service.package_id)
    package_offered_here = exists().where(
        package_sites.c.package_id == Service.package_id,
        package_sites.c.site_id == router_site_id,
    )
    return or_(
        Subscriber.site_id == router_site_id,
        and_(Subscriber.site_id.is_(None), or_(~package_has_sites, package_offered_here)),
    )


def api_routers_query():
    """Routers Kiunga drives over the API (with credentials to do it)."""
    return select(Router).where(
        Router.mode == RouterMode.API,
        Router.api_username.is_not(None),
        Router.api_password_encrypted.is_not(None),
    )


async def routers_for_service(session: AsyncSession, service_id: int) -> list[int]:
    """The api-mode routers that hold (or should stop holding) a service, whatever its
    status: a terminated service is removed from the routers that held it."""
    row = (
        await session.execute(
            select(Subscriber.site_id, Service.package_id)
            .join(Subscriber, Subscriber.id == Service.subscriber_id)
            .where(Service.id == service_id)
        )
    ).first()
    if row is None:
        return []
    subscriber_site_id, package_id = row
    offered = set(
        await session.scalars(
            select(package_sites.c.site_id).where(package_sites.c.package_id == package_id)
        )
    )
    routers = (await session.scalars(api_routers_query().order_by(Router.id))).all()
    return [r.id for r in routers if serves(r.site_id, subscriber_site_id, offered)]


# ---------------------------------------------------------------------------------------
# Building the desired state


async def desired_state(
    session: AsyncSession,
    tenant: str,
    router: Router,
    *,
    service_id: int | None = None,
) -> DesiredState:
    """Everything `router` should hold for this ISP, or (with `service_id`) what it should
    hold for that one service and its package's profile."""
    query = (
        select(Service, Package)
        .join(Subscriber, Subscriber.id == Service.subscriber_id)
        .join(Package, Package.id == Service.package_id)
        .where(_served_by(router.site_id))
        .order_by(Service.id)
    )
    if service_id is None:
        query = query.where(Service.status.in_(ON_ROUTER))
    else:
        query = query.where(Service.id == service_id)
    state = DesiredState()
    for service, package in await session.execute(query.options(raiseload(Package.sites))):
        _add_service(state, tenant, service, package)
    if service_id is not None:
        await _keep_logins_in_use(session, state)
    return state


async def _keep_logins_in_use(session: AsyncSession, state: DesiredState) -> None:
    """A terminated service's username may already belong to another, active service:
    syncing the old one must not cut the new one's session."""
    logins = state.cut_logins["ppp"] | state.cut_logins["hotspot"]
    if not logins:
        return
    in_use = await session.execute(
        select(Service.service_type, Service.username).where(
            Service.username.in_(logins), Service.status == ServiceStatus.ACTIVE
        )
    )
    for service_type, username in in_use:
        kind = "ppp" if service_type is ServiceType.PPPOE else "hotspot"
        state.live_logins[kind].add(username)


def _add_service(state: DesiredState, tenant: str, service: Service, package: Package) -> None:
    key = service_key(service.id)
    live = service.status in ON_ROUTER
    login_kind = {ServiceType.PPPOE: "ppp", ServiceType.HOTSPOT: "hotspot"}.get(
        service.service_type
    )
    if login_kind and service.username:
        if service.status is ServiceStatus.ACTIVE:
            state.live_logins[login_kind].add(service.username)
        elif service.status in CUT_OFF or service.status is ServiceStatus.TERMINATED:
            state.cut_logins[login_kind].add(service.username)
    if not live:
        return
    if service.service_type in (ServiceType.PPPOE, ServiceType.HOTSPOT):
        profile_menu, user_menu = (
            (PPP_PROFILE, PPP_SECRET)
            if service.service_type is ServiceType.PPPOE
            else (HOTSPOT_USER_PROFILE, HOTSPOT_USER)
        )
        if not service.username:
            state.problems.append(f"service {service.id} has no username")
            return
        try:
            password = decrypt_password(service.password_encrypted or "")
        except ValueError:
            state.problems.append(f"service {service.id}: its password cannot be read")
            state.untouchable.add((user_menu, key))
            return
        profile = (
            profile_name(tenant, package.id)
            if profile_menu == PPP_PROFILE
            else hotspot_profile_name(tenant, package.id)
        )
        profile_attributes = {"name": profile, "rate-limit": package.rate_limit}
        if profile_menu == HOTSPOT_USER_PROFILE:
            # How many devices may be logged in with one user at once (a voucher's
            # package allows one unless the operator says more).
            profile_attributes["shared-users"] = str(package.shared_users)
        state.add(Item(profile_menu, package_key(package.id), profile_attributes))
        attributes = {
            "name": service.username,
            "password": password,
            "profile": profile,
            "disabled": "no" if service.status is ServiceStatus.ACTIVE else "yes",
        }
        if service.service_type is ServiceType.PPPOE:
            attributes["service"] = "pppoe"
            if service.static_ip:
                attributes["remote-address"] = str(_address(service.static_ip).ip)
        else:
            if service.mac_address:
                attributes["mac-address"] = service.mac_address
            if not service.auto_renew and package.data_cap_bytes and not package.fup_rate_limit:
                # A period that is never renewed (a voucher): the router counts the bundle
                # down itself. A renewing service's counters would outlive its period.
                attributes["limit-bytes-total"] = str(package.data_cap_bytes)
        state.add(Item(user_menu, key, attributes))
        return
    if service.service_type is ServiceType.STATIC:
        if not service.static_ip:
            state.problems.append(f"service {service.id} has no static address")
            return
        address = _address(service.static_ip)
        state.add(suspended_drop_rule())
        state.add(
            Item(
                SIMPLE_QUEUE,
                key,
                {
                    "name": queue_name(tenant, service.id),
                    "target": str(address.network),
                    "max-limit": max_limit(package.rate_limit),
                },
            )
        )
        if service.status in CUT_OFF:
            state.add(Item(ADDRESS_LIST, key, {"list": SUSPENDED_LIST, "address": str(address.ip)}))


def _address(value: object) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """A service's static address as one host: 10.0.0.5 → 10.0.0.5/32."""
    text = str(value).split("/")[0]
    ip = ipaddress.ip_address(text)
    return ipaddress.ip_interface(f"{ip}/{ip.max_prefixlen}")


def max_limit(rate_limit: str) -> str:
    """A queue's max-limit from a package's rate limit: its first pair ("5M/10M"), without
    the burst figures a PPP or hotspot profile also takes."""
    return rate_limit.strip().split()[0] if rate_limit.strip() else "0/0"
