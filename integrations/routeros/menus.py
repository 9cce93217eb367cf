"""The calls for each menu Kiunga provisions, built on `RouterOSClient`'s generic ones."""

from __future__ import annotations

from collections.abc import Iterable

from kiunga.integrations.routeros.errors import RouterTrap
from kiunga.integrations.routeros.gateway import (
    ADDRESS_LIST,
    HOTSPOT_ACTIVE,
    HOTSPOT_USER,
    HOTSPOT_USER_PROFILE,
    PPP_ACTIVE,
    PPP_PROFILE,
    PPP_SECRET,
    SESSION_LOGINS,
    SIMPLE_QUEUE,
    SUSPENDED_LIST,
    Ensured,
    Row,
)
from kiunga.integrations.routeros.marks import parse_reserved_name
from kiunga.integrations.routeros.rates import RateLimit


class MenuCalls:
    """Mixed into `RouterOSClient`, whose list/remove/ours/ensure/remove_ours they use."""

    # -- hotspot -------------------------------------------------------------------

    async def ensure_hotspot_user_profile(
        self,
        name: str,
        *,
        rate_limit: str | RateLimit,
        shared_users: int = 1,
        key: str | None = None,
        **extra: object,
    ) -> Ensured:
        """RouterOS has no comment on this menu: `name` must be this tenant's reserved
        name for `key` (`reserved_name(key)`); `key` is read from it when not given."""
        if key is None:
            found = parse_reserved_name(name)
            if found is None:
                raise ValueError(
                    f"a hotspot user profile has no comment on RouterOS: {name!r} is not a "
                    "reserved name (kiunga-<slug>-<word>-<number>)"
                )
            key = found.key
        return await self.ensure(
            HOTSPOT_USER_PROFILE,
            {"name": name},
            key,
            rate_limit=RateLimit.parse(rate_limit),
            shared_users=shared_users,
            **extra,
        )

    async def ensure_hotspot_user(
        self,
        name: str,
        *,
        password: str,
        profile: str,
        disabled: bool = False,
        key: str | None = None,
        **extra: object,
    ) -> Ensured:
        return await self.ensure(
            HOTSPOT_USER,
            {"name": name},
            key or f"user:{name}",
            password=password,
            profile=profile,
            disabled=disabled,
            **extra,
        )

    async def remove_hotspot_user(self, name: str) -> int:
        return await self.remove_ours(HOTSPOT_USER, name=name)

    async def hotspot_sessions(self, user: str | None = None) -> list[Row]:
        if user is None:
            return await self.list(HOTSPOT_ACTIVE)
        return await self.list(HOTSPOT_ACTIVE, user=user)

    async def cut_hotspot_sessions(self, user: str) -> int:
        """Logs this tenant's hotspot user out everywhere. Returns how many sessions were cut."""
        return len(await self.cut_own_sessions(HOTSPOT_ACTIVE, [user]))

    # -- PPP -----------------------------------------------------------------------

    async def ensure_ppp_profile(
        self,
        name: str,
        *,
        rate_limit: str | RateLimit,
        local_address: str | None = None,
        remote_address: str | None = None,
        key: str | None = None,
        **extra: object,
    ) -> Ensured:
        addresses = {"local_address": local_address, "remote_address": remote_address}
        return await self.ensure(
            PPP_PROFILE,
            {"name": name},
            key or f"profile:{name}",
            rate_limit=RateLimit.parse(rate_limit),
            **{k: v for k, v in addresses.items() if v is not None},
            **extra,
        )

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
    ) -> Ensured:
        return await self.ensure(
            PPP_SECRET,
            {"name": name},
            key or f"secret:{name}",
            password=password,
            profile=profile,
            service=service,
            disabled=disabled,
            **extra,
        )

    async def remove_ppp_secret(self, name: str) -> int:
        return await self.remove_ours(PPP_SECRET, name=name)

    async def ppp_sessions(self, name: str | None = None) -> list[Row]:
        if name is None:
            return await self.list(PPP_ACTIVE)
        return await self.list(PPP_ACTIVE, name=name)

    async def cut_ppp_sessions(self, name: str) -> int:
        """Disconnects this tenant's PPP client (so it redials under its new settings, or
        not at all). Returns how many sessions were cut."""
        return len(await self.cut_own_sessions(PPP_ACTIVE, [name]))

    async def cut_own_sessions(
        self, path: str, logins: Iterable[str], *, one_by_one: bool = True
    ) -> list[str]:
        """Cuts the sessions (in /ppp/active or /ip/hotspot/active) that this tenant's
        secrets or hotspot users let in; returns the login of each session cut.

        A session is known by its login's name only, and that name may also be a staff
        account's or another ISP's on a shared router. So the login's item is looked up
        first: a login is cut only when every item of that name carries this tenant's
        mark, and only its sessions the router authenticated itself (a RADIUS login of
        the same name was not let in by our item). `one_by_one`: look each login up by
        name (a few logins) rather than read the whole menus once (a whole router)."""
        login_menu, login_property = SESSION_LOGINS[path]
        wanted = set(logins)
        if not wanted:
            return []
        holders: dict[str, list[Row]] = {}
        if one_by_one:
            for login in sorted(wanted):
                holders[login] = await self.list(login_menu, name=login)
        else:
            for row in await self.list(login_menu, proplist=[".id", "name", "comment"]):
                if row.get("name") in wanted:
                    holders.setdefault(row["name"], []).append(row)
        own = {
            login
            for login, rows in holders.items()
            if rows and all(self.is_ours(login_menu, row) for row in rows)
        }
        if not own:
            return []
        if one_by_one:
            sessions = []
            for login in sorted(own):
                sessions.extend(await self.list(path, **{login_property: login}))
        else:
            rows = await self.list(path, proplist=[".id", login_property, "radius"])
            sessions = [row for row in rows if row.get(login_property) in own]
        cut = []
        for session in sessions:
            if session.get("radius", "").lower() not in ("false", "no"):
                continue
            try:
                await self.remove(path, session[".id"])
            except RouterTrap as trap:
                if trap.message != "no such item":  # it ended on its own meanwhile
                    raise
                continue
            cut.append(session.get(login_property, "?"))
        return cut

    # -- queues and the suspended list ----------------------------------------------

    async def ensure_simple_queue(
        self,
        name: str,
        *,
        target: str,
        rate_limit: str | RateLimit,
        key: str | None = None,
        **extra: object,
    ) -> Ensured:
        """A queue limiting `target` (an address or subnet) to upload/download."""
        return await self.ensure(
            SIMPLE_QUEUE,
            {"name": name},
            key or f"queue:{name}",
            target=target,
            max_limit=RateLimit.parse(rate_limit),
            **extra,
        )

    async def remove_simple_queue(self, name: str) -> int:
        return await self.remove_ours(SIMPLE_QUEUE, name=name)

    async def suspend_address(
        self, address: str, *, list_name: str = SUSPENDED_LIST, key: str | None = None
    ) -> Ensured:
        """Puts an address on the suspended list (idempotent)."""
        return await self.ensure(
            ADDRESS_LIST, {"list": list_name, "address": address}, key or f"suspended:{address}"
        )

    async def restore_address(self, address: str, *, list_name: str = SUSPENDED_LIST) -> int:
        """Takes an address off the suspended list (only Kiunga's entries)."""
        return await self.remove_ours(ADDRESS_LIST, list=list_name, address=address)

    async def suspended_addresses(self, *, list_name: str = SUSPENDED_LIST) -> list[str]:
        return [item["address"] for item in await self.ours(ADDRESS_LIST, list=list_name)]
