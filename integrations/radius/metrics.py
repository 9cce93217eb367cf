"""Counters of one RADIUS server, exported to Prometheus.

The hot path adds to plain integers (a dictionary item each); a collector turns them into
Prometheus counters when scraped. Each server gets its own registry unless given one (tests
run several servers in one process).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily

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

_FAMILIES = {
    # attribute: (name, help, label)
    "dropped": ("kiunga_radius_dropped", "RADIUS packets dropped unanswered", "reason"),
    "access": ("kiunga_radius_access", "Access-Requests answered", "result"),
    "rejects": ("kiunga_radius_rejects", "Access-Rejects by reason", "reason"),
    "accounting": ("kiunga_radius_accounting", "Accounting-Requests answered", "status"),
    "duplicates": (
        "kiunga_radius_duplicates",
        "Retransmissions answered from the reply cache (RFC 5080)",
        "port",
    ),
}


class RadiusMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.access: dict[str, int] = {"accept": 0, "reject": 0}
        self.rejects: dict[str, int] = {}
        self.accounting: dict[str, int] = {}
        self.duplicates: dict[str, int] = {"auth": 0, "acct": 0}
        self.registry = registry if registry is not None else CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[CounterMetricFamily]:
        for attribute, (name, documentation, label) in _FAMILIES.items():
            family = CounterMetricFamily(name, documentation, labels=[label])
            for value, count in list(getattr(self, attribute).items()):
                family.add_metric([value], count)
            yield family

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value as Prometheus sees it (0 if never counted), e.g.
        `value("dropped", reason="unknown_client")`."""
        sample = self.registry.get_sample_value(f"kiunga_radius_{name}_total", labels)
        return sample or 0.0
