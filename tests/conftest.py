"""Shared fixtures: a real PostgreSQL and a real Redis for the whole run.

The servers are those named by KIUNGA_DATABASE_URL / KIUNGA_REDIS_URL when set, else the
embedded ones under `.kiunga-test/` (started once, shared by every test). Each run gets a
database of its own, migrated with `kiunga migrate`'s own code, and dropped at the end.

Every other fixture the suite shares is defined once, in the `fixtures` package beside this
file, registered here.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from kiunga.platform.db.engine import libpq_url, sync_engine
from kiunga.platform.devservices import EmbeddedValkey, start_embedded_postgres
from kiunga.platform.migrate import migrate
from kiunga.platform.settings import get_settings, normalise_database_url
from sqlalchemy.engine import make_url

# Their asserts report like a test's own (pytest rewrites the plugins; this covers the
# helper modules the tests import).
pytest.register_assert_rewrite("fixtures")
pytest_plugins = [
    "fixtures.tenancy",
    "fixtures.web",
    "fixtures.jobs",
    "fixtures.served",
    "fixtures.browser",
    "fixtures.mpesa",
    "fixtures.provisioning",
    "fixtures.radius",
    "fixtures.channels",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = REPO_ROOT / ".kiunga-test"


# The embedded test server holds nothing worth keeping past a crash of the machine, and
# the suite creates and drops databases (each drop forces a checkpoint) and commits tens of
# thousands of small transactions: flushing each to disk is most of its database time on a
# busy disk. What the tests check (transactions, locks, constraints, NOTIFY) is unchanged.
_THROWAWAY_SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off"}


# Benchmarks (`./run bench`) measure what a real server does: durable commits, and argon2
# for every password.
BENCHMARKING = os.environ.get("KIUNGA_BENCH") == "1"


def _settle_for_tests(database_url: str) -> None:
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        for name, value in _THROWAWAY_SERVER_SETTINGS.items():
            if BENCHMARKING:
                conn.execute(f"ALTER SYSTEM RESET {name}")
            else:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")


def _server_urls() -> tuple[str, str]:
    database_url = os.environ.get("KIUNGA_DATABASE_URL")
    redis_url = os.environ.get("KIUNGA_REDIS_URL")
    TEST_DATA_DIR.mkdir(exist_ok=True)
    if not database_url:
        database_url = start_embedded_postgres(TEST_DATA_DIR / "postgres")
        _settle_for_tests(database_url)
    if not redis_url:
        redis_url = EmbeddedValkey(TEST_DATA_DIR / "valkey").acquire()
    return normalise_database_url(database_url), redis_url


class _RememberingHasher:
    """argon2 with each answer remembered: a password hashes once per run, a verification is
    computed once per (hash, password). Both are argon2's own results; only the salt is shared
    between test accounts with the same password. Servers run as subprocesses hash for real."""

    def __init__(self, hasher):
        self._hasher = hasher
        self._hashes: dict[str, str] = {}
        self._verdicts: dict[tuple[str, str], BaseException | None] = {}

    def hash(self, password: str) -> str:
        if password not in self._hashes:
            self._hashes[password] = self._hasher.hash(password)
        return self._hashes[password]

    def verify(self, password_hash: str, password: str) -> bool:
        key = (password_hash, password)
        if key not in self._verdicts:
            try:
                self._hasher.verify(password_hash, password)
                self._verdicts[key] = None
            except Exception as exc:  # argon2's refusals, remembered and raised again
                self._verdicts[key] = exc
        if self._verdicts[key] is not None:
            raise self._verdicts[key]
        return True

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@pytest.fixture(scope="session", autouse=True)
def _argon2_once_per_password():
    # argon2 is slow on purpose (0.1–0.4 s a hash here); hundreds of test accounts share a
    # few passwords and sign in again and again.
    from kiunga.platform.auth import passwords

    if BENCHMARKING:
        yield
        return
    real = passwords._hasher
    passwords._hasher = _RememberingHasher(real)
    yield
    passwords._hasher = real


@pytest.fixture(scope="session", autouse=True)
def _areas_installed():
    """The listed areas' hooks and scopes, installed as the app, the worker and the CLI
    install them, for tests that call service functions without building either."""
    from kiunga.platform.areas import assemble, installed

    with installed(assemble()):
        yield


@pytest.fixture(scope="session")
def server_urls() -> tuple[str, str]:
    return _server_urls()


@contextmanager
def _fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new database on the test server, at the platform head; dropped on leaving."""
    base = make_url(server_url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = libpq_url(base.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        report = migrate(url, concurrency=1)
        assert report.ok, report
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def fresh_database(server_urls):
    """`with fresh_database("prefix") as url:` a database of one's own, for tests that
    work on every tenant of a database (the migration runner, the CLI)."""
    return partial(_fresh_database, server_urls[0])


@pytest.fixture(scope="session")
def database_url(fresh_database) -> str:
    """The run's shared database."""
    with fresh_database("kiunga_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_databases() -> tuple[int, int]:
    """This test process's two Redis databases (the run's, the job tests'): a pair per
    pytest-xdist worker, so that workers never empty or read each other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw")) if worker.removeprefix("gw").isdigit() else 0
    if index > 6:
        raise RuntimeError("at most 7 test workers: Redis has 16 databases")
    return 1 + 2 * index, 2 + 2 * index


@pytest.fixture(scope="session")
def redis_url(server_urls, redis_databases) -> str:
    """This process's Redis database on the test server, emptied at the start of the run."""
    import redis

    url = urlunsplit(urlsplit(server_urls[1])._replace(path=f"/{redis_databases[0]}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture(scope="session")
def settings_env(database_url, redis_url, tmp_path_factory):
    """The environment a Kiunga process of this run sees; also applied to this process."""
    env = {
        "KIUNGA_DATABASE_URL": database_url,
        "KIUNGA_REDIS_URL": redis_url,
        "KIUNGA_DATA_DIR": str(tmp_path_factory.mktemp("kiunga-data")),
        "KIUNGA_SECRET_KEY": secrets.token_urlsafe(48),
        "KIUNGA_BASE_DOMAIN": "kiunga.test",
        "KIUNGA_ENV": "test",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    get_settings.cache_clear()
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def settings(settings_env):
    return get_settings()


@pytest.fixture(scope="session")
def engine(database_url):
    engine = sync_engine(database_url)
    yield engine
    engine.dispose()


_slugs = itertools.count(1)


@pytest.fixture
def make_tenant(engine, settings):
    """Create a tenant with a unique slug; returns `CreatedTenant`."""
    from kiunga.platform.tenant_admin import create_tenant

    def make(prefix: str = "isp", **kwargs):
        slug = kwargs.pop("slug", None) or f"{prefix}-{os.getpid()}-{next(_slugs)}"
        kwargs.setdefault("name", f"ISP {slug}")
        kwargs.setdefault("owner_email", f"owner@{slug}.example")
        kwargs.setdefault("owner_password", "correct horse battery")
        return create_tenant(engine, slug=slug, base_domain=settings.base_domain, **kwargs)

    return make
