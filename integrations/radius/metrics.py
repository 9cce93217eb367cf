"""Prometheus counters of one RADIUS server.

Each server gets its own registry unless given one (tests run several servers in one
process). Label values are bound once, so the hot path pays one increment per packet.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

DROP_REASONS = (
    "unknown_client",
    "bad_authenticator",
    "missing_message_authenticator",
    "malformed",
    "unexpected_code",
    "in_progress",
    "sink_refused",
    "error",
)


class RadiusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._dropped = Counter(
            "kiunga_radius_dropped",
            "RADIUS packets dropped without an answer, by reason",
            ["reason"],
            registry=self.registry,
        )
        self._access = Counter(
            "kiunga_radius_access",
            "Access-Requests answered, by result (accept, reject)",
            ["result"],
            registry=self.registry,
        )
        self._rejects = Counter(
            "kiunga_radius_rejects",
            "Access-Rejects by reason",
            ["reason"],
            registry=self.registry,
        )
        self._accounting = Counter(
            "kiunga_radius_accounting",
            "Accounting-Requests answered, by Acct-Status-Type",
            ["status"],
            registry=self.registry,
        )
        self._duplicates = Counter(
            "kiunga_radius_duplicates",
            "Retransmitted requests answered from the reply cache (RFC 5080)",
            ["port"],
            registry=self.registry,
        )
        self.drop = {reason: self._dropped.labels(reason).inc for reason in DROP_REASONS}
        self.accepted = self._access.labels("accept").inc
        self.rejected = self._access.labels("reject").inc
        self.auth_duplicate = self._duplicates.labels("auth").inc
        self.acct_duplicate = self._duplicates.labels("acct").inc

    def rejected_for(self, reason: str) -> None:
        self._rejects.labels(reason).inc()

    def accounted(self, status: str) -> None:
        self._accounting.labels(status).inc()

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value (0 if never incremented), e.g.
        `value("dropped", reason="unknown_client")`."""
        sample = self.registry.get_sample_value(f"kiunga_radius_{name}_total", labels)
        return sample or 0.0
