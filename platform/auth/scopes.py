"""API scopes, and the scopes each staff role holds in the console: the mechanism.

Each area declares its scopes in its manifest (`Scope`: the name, the staff roles that
hold it in the console, whether a reseller's key may hold it); the kernel builds one
`ScopeTable` from the manifests it assembled, with the platform's own scopes below, and
installs it for the process. A tenant API key carries some of the table's tenant scopes; a
platform key (no tenant) some of its platform scopes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiunga.platform.models import StaffRole

API_KEYS_MANAGE = "api_keys:manage"
PLATFORM_TENANTS = "platform:tenants"

# The ISP's own staff, every role but the agent (who sells vouchers for a reseller and
# sees nothing else): the usual holders of an area's read scope.
OFFICE_ROLES = frozenset(
    {StaffRole.OWNER, StaffRole.ADMIN, StaffRole.FINANCE, StaffRole.SUPPORT, StaffRole.TECHNICIAN}
)


@dataclass(frozen=True)
class Scope:
    """One scope, as an area declares it.

    `fenced`: every route it opens confines itself to the caller's fence (a reseller's own
    subscribers, an agent's own vouchers), so a key tied to a reseller may hold it; any
    other scope reaches the whole ISP and such a key is refused it when it is made.
    `platform`: held by platform keys (no tenant) rather than by an ISP's keys and staff.
    """

    name: str
    roles: frozenset[StaffRole] = frozenset()
    fenced: bool = False
    platform: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles))


# The kernel's own: managing an ISP's API keys, and the platform's tenant administration.
PLATFORM_LEVEL_SCOPES = (
    Scope(API_KEYS_MANAGE, roles={StaffRole.OWNER, StaffRole.ADMIN}),
    Scope(PLATFORM_TENANTS, platform=True),
)


@dataclass(frozen=True)
class ScopeTable:
    tenant: frozenset[str]
    platform: frozenset[str]
    roles: Mapping[StaffRole, frozenset[str]]
    # What a reseller's key may hold (see Scope.fenced).
    fenced: frozenset[str] = field(default=frozenset())

    @classmethod
    def of(cls, scopes: Iterable[Scope]) -> ScopeTable:
        seen: dict[str, Scope] = {}
        for scope in scopes:
            if scope.name in seen and seen[scope.name] != scope:
                raise ValueError(f"scope {scope.name!r} is declared twice, differently")
            seen[scope.name] = scope
        declared = seen.values()
        return cls(
            tenant=frozenset(s.name for s in declared if not s.platform),
            platform=frozenset(s.name for s in declared if s.platform),
            roles={
                role: frozenset(s.name for s in declared if role in s.roles and not s.platform)
                for role in StaffRole
            },
            fenced=frozenset(s.name for s in declared if s.fenced and not s.platform),
        )

    @property
    def isp_wide(self) -> frozenset[str]:
        return self.tenant - self.fenced

    def allowed(self, tenant_id: int | None) -> frozenset[str]:
        """The scopes a key may carry: tenant scopes for a tenant key, platform ones otherwise."""
        return self.tenant if tenant_id is not None else self.platform


class ScopesNotInstalled(RuntimeError):
    """Scopes were checked in a process that assembled no areas."""


_installed: ScopeTable | None = None


def install_scopes(table: ScopeTable | None) -> ScopeTable | None:
    """Make `table` the process's scope table; returns the one it replaces."""
    global _installed
    previous, _installed = _installed, table
    return previous


def scope_table() -> ScopeTable:
    if _installed is None:
        raise ScopesNotInstalled("no scope table installed: assemble the areas first")
    return _installed
