"""In-memory `ClientDirectory` and `Authorizer`: the shape the tenant layer's caches take,
and what tests, benchmarks and local runs use."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiunga.integrations.radius.interfaces import (
    Authorization,
    RadiusClient,
    Rejection,
    RejectReason,
)

_UNKNOWN = Rejection(RejectReason.UNKNOWN_USER)


class StaticDirectory:
    """NAS clients by source address."""

    def __init__(self, clients: dict[str, RadiusClient] | None = None) -> None:
        self.clients: dict[str, RadiusClient] = dict(clients or {})

    def add(self, address: str, client: RadiusClient) -> None:
        self.clients[address] = client

    def lookup(self, source_ip: str) -> RadiusClient | None:
        return self.clients.get(source_ip)


@dataclass
class StaticAuthorizer:
    """Decisions by (tenant key, user name); anyone else is an unknown user."""

    decisions: dict[tuple[str, str], Authorization | Rejection] = field(default_factory=dict)
    calls: int = 0

    def set(self, tenant_key: str, username: str, decision: Authorization | Rejection) -> None:
        self.decisions[(tenant_key, username)] = decision

    def authorize(
        self, client: RadiusClient, username: str, calling_station_id: str | None = None
    ) -> Authorization | Rejection:
        self.calls += 1
        return self.decisions.get((client.tenant_key, username), _UNKNOWN)
