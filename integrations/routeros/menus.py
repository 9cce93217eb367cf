"""The calls for each menu Kiunga provisions, built on `RouterOSClient`'s generic ones."""

from __future__ import annotations

from kiunga.integrations.routeros.errors import RouterTrap
from kiunga.integrations.routeros.gateway import (
    ADDRESS_LIST,
    HOTSPOT_ACTIVE,
    HOTSPOT_USER,
    HOTSPOT_USER_PROFILE,
    PPP_ACTIVE,
    PPP_PROFILE,
    PPP_SECRET,
    SIMPLE_QUEUE,
    SUSPENDED_LIST,
    Ensured,
    Row,
)
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
        return await self.ensure(
            HOTSPOT_USER_PROFILE,
            {"name": name},
            key or f"profile:{name}",
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
        """Logs a hotspot user out everywhere. Returns how many sessions were cut."""
        return await self._cut(HOTSPOT_ACTIVE, await self.hotspot_sessions(user))

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
        """Disconnects a PPP client (so it redials under its new settings, or not at all)."""
        return await self._cut(PPP_ACTIVE, await self.ppp_sessions(name))

    async def _cut(self, path: str, sessions: list[Row]) -> int:
        cut = 0
        for session in sessions:
            try:
                await self.remove(path, session[".id"])
                cut += 1
            except RouterTrap as trap:
                if trap.message != "no such item":  # it ended on its own meanwhile
                    raise
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
