"""Settings, read once from the environment into a typed, frozen dataclass.

Every variable is documented in the README's configuration table; keep the two in step.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ENV_PREFIX = "KIUNGA_"


class SettingsError(ValueError):
    """A setting is present but unusable; the message names the variable."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{ENV_PREFIX}{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{ENV_PREFIX}{name} must be at least {minimum}, got {value}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{ENV_PREFIX}{name} must be true or false, got {raw!r}")


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and always talk psycopg 3 through SQLAlchemy."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith("postgresql+psycopg://"):
        raise SettingsError(
            f"{ENV_PREFIX}DATABASE_URL must be a PostgreSQL URL (postgresql://…), got {url!r}"
        )
    return url


def _secret_key(data_dir: Path, environment: str) -> str:
    configured = _env("SECRET_KEY")
    if configured:
        if len(configured) < 32:
            raise SettingsError(f"{ENV_PREFIX}SECRET_KEY must be at least 32 characters long")
        return configured
    if environment == "production":
        raise SettingsError(f"{ENV_PREFIX}SECRET_KEY is required in production")
    # Development: one random key kept in the data directory, so sessions survive restarts
    # and every process of one installation agrees on it.
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    secret_key: str = field(repr=False)
    base_domain: str
    host: str
    port: int
    log_level: str
    log_json: bool
    db_pool_size: int
    migrate_concurrency: int
    tenant_cache_seconds: int
    # Where outside systems (Daraja's callbacks) reach this installation; no trailing slash.
    public_url: str = ""
    # The RADIUS server (`kiunga radius`): where it listens, how often NASes send
    # Interim-Updates (a session silent for twice that is closed) and the full cache reload.
    radius_host: str = "127.0.0.1"
    radius_auth_port: int = 1812
    radius_acct_port: int = 1813
    radius_interim_seconds: int = 300
    radius_reload_seconds: int = 300
    # In production, whether routers may be reached at private addresses (10/8, 172.16/12,
    # 192.168/16, 100.64/10, fc00::/7): usual for ISPs, whose routers sit behind a VPN.
    # Loopback, link-local and cloud metadata addresses are refused either way.
    router_private_addresses: bool = True
    # /metrics answers on the bare base domain, or anywhere with `Authorization: Bearer
    # <this>` (how a scraper that comes by address gets in).
    metrics_token: str | None = field(default=None, repr=False)
    # `kiunga serve`: how long a client may take to send a request's headers, then its body.
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 120
    # The secret path token of the platform's shared USSD code's callback
    # (/hooks/ussd/<this>/ussd): ISPs on a shared code are told apart by their extension.
    # Unset: that path answers 404.
    ussd_shared_token: str | None = field(default=None, repr=False)

    @property
    def uses_embedded_services(self) -> bool:
        return self.database_url is None or self.redis_url is None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def load_settings() -> Settings:
    environment = (_env("ENV", "development") or "development").lower()
    if environment not in {"development", "test", "production"}:
        raise SettingsError(f"{ENV_PREFIX}ENV must be development, test or production")
    data_dir = Path(_env("DATA_DIR", "./.kiunga") or "./.kiunga").expanduser().resolve()
    database_url = _env("DATABASE_URL")
    base_domain = (_env("BASE_DOMAIN", "localhost") or "localhost").lower().strip(".")
    return Settings(
        environment=environment,
        data_dir=data_dir,
        database_url=normalise_database_url(database_url) if database_url else None,
        redis_url=_env("REDIS_URL"),
        secret_key=_secret_key(data_dir, environment),
        base_domain=base_domain,
        host=_env("HOST", "127.0.0.1") or "127.0.0.1",
        port=_env_int("PORT", 8000, minimum=1),
        log_level=(_env("LOG_LEVEL", "INFO") or "INFO").upper(),
        log_json=_env_bool("LOG_JSON", environment == "production"),
        db_pool_size=_env_int("DB_POOL_SIZE", 10, minimum=1),
        migrate_concurrency=_env_int("MIGRATE_CONCURRENCY", os.cpu_count() or 2, minimum=1),
        tenant_cache_seconds=_env_int("TENANT_CACHE_SECONDS", 30, minimum=0),
        public_url=_public_url(environment),
        radius_host=_env("RADIUS_HOST", "127.0.0.1") or "127.0.0.1",
        radius_auth_port=_env_int("RADIUS_AUTH_PORT", 1812, minimum=0),
        radius_acct_port=_env_int("RADIUS_ACCT_PORT", 1813, minimum=0),
        radius_interim_seconds=_env_int("RADIUS_INTERIM_SECONDS", 300, minimum=10),
        radius_reload_seconds=_env_int("RADIUS_RELOAD_SECONDS", 300, minimum=5),
        router_private_addresses=_env_bool("ROUTER_PRIVATE_ADDRESSES", True),
        metrics_token=_env("METRICS_TOKEN"),
        header_timeout_seconds=_env_int("HEADER_TIMEOUT", 10, minimum=1),
        body_timeout_seconds=_env_int("BODY_TIMEOUT", 120, minimum=1),
        ussd_shared_token=_env("USSD_SHARED_TOKEN") or None,
    )


def _public_url(environment: str) -> str:
    configured = _env("PUBLIC_URL")
    if configured is None:
        if environment == "production":
            return ""  # M-Pesa refuses to register callbacks until it is set
        host = _env("HOST", "127.0.0.1") or "127.0.0.1"
        host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        return f"http://{host}:{_env_int('PORT', 8000, minimum=1)}"
    if not configured.startswith(("https://", "http://")):
        raise SettingsError(f"{ENV_PREFIX}PUBLIC_URL must start with https:// or http://")
    return configured.rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests call `get_settings.cache_clear()`."""
    return load_settings()
