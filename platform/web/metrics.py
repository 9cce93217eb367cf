"""Prometheus metrics: request counts and latency by route (Litestar's middleware), and
Kiunga's own gauges and counters. Metrics live in the process's default registry."""

from __future__ import annotations

import hmac
import re

from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter, Gauge

TENANT_CACHE_ENTRIES = Gauge(
    "kiunga_tenant_resolution_cache_entries",
    "Entries in the in-process caches that map hosts and API keys to tenants",
    ["cache"],
)
TENANT_RESOLUTIONS = Counter(
    "kiunga_tenant_resolutions_total",
    "Host resolutions, by where the answer came from and what it was",
    ["source", "outcome"],
)
API_KEY_AUTHENTICATIONS = Counter(
    "kiunga_api_key_authentications_total",
    "Bearer key checks, by outcome",
    ["outcome"],
)
LOGINS = Counter("kiunga_console_logins_total", "Console sign-in attempts, by outcome", ["outcome"])


def cache_size_reporter(cache_name: str):
    gauge = TENANT_CACHE_ENTRIES.labels(cache=cache_name)
    return gauge.set


def prometheus_config() -> PrometheusConfig:
    # group_path labels by the route template (/api/v1/sites/{site_id:int}), not the raw
    # path, so that ids do not explode the number of series.
    return PrometheusConfig(
        app_name="kiunga",
        prefix="kiunga_http",
        group_path=True,
        exclude=["^/metrics$", "^/static/"],
    )


_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


async def platform_host_or_token(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Metrics name routes, tenants' traffic and outcomes: only for the platform's own host
    or a scraper holding the metrics token. Anyone else finds nothing here."""
    # Imported here: tenancy imports this module's counters.
    from kiunga.platform.web.tenancy import normalise_host

    settings = connection.app.state.services.settings
    if normalise_host(connection.headers.get("host")) == settings.base_domain:
        return
    match = _BEARER.match(connection.headers.get("authorization", ""))
    token = settings.metrics_token
    if token and match and hmac.compare_digest(match.group(1).encode(), token.encode()):
        return
    raise NotFoundException("Not found")


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    guards = [platform_host_or_token]
    opt = {"any_host": True, "exclude_from_csrf": True, "skip_session": True}
