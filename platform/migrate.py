"""`kiunga migrate`: the platform schema first, then every tenant, several at a time.

Speed comes from not asking Alembic about tenants that have nothing to do: the versions of
all tenants are read with a few batched queries and compared with the heads, and only the
tenants behind are handed to worker processes, in chunks (one round trip per chunk, not per
tenant). Each tenant is upgraded in its own transaction with its own version table, so one
failing tenant rolls back alone and the run goes on.

Worker processes, not threads: Alembic installs its `context` and `op` proxies as module
globals, so two migrations in one process at once would trample each other.

Two runs at once (two deploys, an operator and a deploy) would race on the same tenants, so a
run holds a PostgreSQL advisory lock for its whole length; the second waits, then finds the
tenants at head and skips them. The lock is session-level: `kiunga migrate` must connect to
PostgreSQL directly, not through PgBouncer in transaction mode.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from alembic import command
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from kiunga.migrations.support import PLATFORM_TRACK, TENANT_TRACK, alembic_config
from kiunga.platform.db.base import PLATFORM_SCHEMA
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.db.naming import validate_schema
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# "kiunga" in ASCII: the advisory lock key of migration runs, the same in every process.
MIGRATE_LOCK_KEY = 0x6B69756E6761
VERSION_BATCH = 500
# Tenants per task sent to a worker: enough to make inter-process traffic negligible, few
# enough that the progress bar moves and the work spreads evenly over the workers.
MAX_CHUNK = 25
# A tenant whose tables are held by long transactions fails (and is reported) instead of
# stalling the whole run.
TENANT_LOCK_TIMEOUT = "60s"
# Every head: with two unmerged branches, both are applied (Alembic records each in the
# version table) rather than refusing to deploy; `heads` equals `head` when there is one.
ALL_HEADS = "heads"

# Alembic's proxies are process-global; serialise migrations started within one process
# (tenant creation from concurrent API requests, for instance).
_alembic_lock = threading.Lock()


@dataclass
class TenantFailure:
    slug: str
    error: str  # one line, for a report table
    detail: str = ""  # the full exception text


@dataclass
class MigrationReport:
    total: int = 0
    skipped: int = 0
    upgraded: list[str] = field(default_factory=list)
    failed: list[TenantFailure] = field(default_factory=list)
    heads: tuple[str, ...] = ()
    workers: int = 0  # worker processes started; 0 when everything ran in this process
    waited_for_lock: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def pending(self) -> int:
        return self.total - self.skipped


class UnknownTenant(LookupError):
    pass


@lru_cache(maxsize=2)
def _script(track: str) -> ScriptDirectory:
    # Parsed once per process: a worker upgrades many tenants and the revision files do not
    # change under it.
    return ScriptDirectory.from_config(alembic_config(track))


def tenant_heads() -> frozenset[str]:
    return frozenset(_script(TENANT_TRACK).get_heads())


def tenant_revisions_in_order() -> list[str]:
    """The tenant track's revisions from the first to the heads."""
    return [rev.revision for rev in reversed(list(_script(TENANT_TRACK).walk_revisions()))]


def upgrade_platform(engine: Engine) -> None:
    with _alembic_lock, engine.begin() as connection:
        command.upgrade(alembic_config(PLATFORM_TRACK, connection=connection), ALL_HEADS)


def upgrade_tenant_schema(connection: Connection, schema: str, target: str = ALL_HEADS) -> None:
    """Create the schema if needed and bring it to `target`, inside the caller's transaction.

    What `alembic upgrade` does, with the parsed script directory reused.
    """
    schema = validate_schema(schema)
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    config = alembic_config(TENANT_TRACK, connection=connection, tenant_schema=schema)
    script = _script(TENANT_TRACK)

    def upgrade(current, _context):
        return script._upgrade_revs(target, current)

    with _alembic_lock, EnvironmentContext(config, script, fn=upgrade, destination_rev=target):
        script.run_env()


def tenant_versions(connection: Connection, schemas: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each schema's applied revisions; a schema without a version table maps to nothing."""
    wanted = [validate_schema(s) for s in schemas]
    with_table = {
        row[0]
        for row in connection.execute(
            text(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'alembic_version' AND c.relkind = 'r' "
                "AND n.nspname = ANY(:schemas)"
            ),
            {"schemas": wanted},
        )
    }
    versions: dict[str, set[str]] = {schema: set() for schema in wanted}
    present = [schema for schema in wanted if schema in with_table]
    for start in range(0, len(present), VERSION_BATCH):
        batch = present[start : start + VERSION_BATCH]
        union = " UNION ALL ".join(
            f"SELECT '{schema}' AS s, version_num FROM \"{schema}\".alembic_version"
            for schema in batch
        )
        for schema, version in connection.execute(text(union)):
            versions[schema].add(version)
    return {schema: frozenset(found) for schema, found in versions.items()}


def _tenants(connection: Connection, slug: str | None) -> list[tuple[str, str]]:
    # Disabled tenants too: enabling one later must not meet an old schema.
    query = f"SELECT slug, schema FROM {PLATFORM_SCHEMA}.tenants"
    params = {}
    if slug is not None:
        query += " WHERE slug = :slug"
        params["slug"] = slug
    return [(row[0], row[1]) for row in connection.execute(text(query + " ORDER BY id"), params)]


@contextmanager
def migration_lock(engine: Engine, on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold the migration advisory lock; yields whether another run had to be waited for."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        key = {"key": MIGRATE_LOCK_KEY}
        waited = not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
        if waited:
            if on_wait:
                on_wait()
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        try:
            yield waited
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, without SQLAlchemy's SQL echo and links."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    message = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {message[0] if message else ''}".rstrip(": ")


# ------------------------------------------------------------------ one tenant, one transaction


def _migrate_one(engine: Engine, slug: str, schema: str) -> tuple[str, TenantFailure | None]:
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT set_config('lock_timeout', :timeout, true)"),
                {"timeout": TENANT_LOCK_TIMEOUT},
            )
            upgrade_tenant_schema(connection, schema)
        return slug, None
    except Exception as exc:  # reported, never fatal to the run
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return slug, TenantFailure(slug, describe_error(exc), detail)


# Worker processes keep one engine (one connection) for all the chunks they are given.
_worker_engine: Engine | None = None


def _init_worker(database_url: str) -> None:
    global _worker_engine
    _worker_engine = sync_engine(database_url, pool_size=1, max_overflow=0)


def _migrate_chunk(chunk: list[tuple[str, str]]) -> list[tuple[str, TenantFailure | None]]:
    assert _worker_engine is not None
    return [_migrate_one(_worker_engine, slug, schema) for slug, schema in chunk]


def _chunks(pending: list[tuple[str, str]], workers: int) -> list[list[tuple[str, str]]]:
    size = max(1, min(MAX_CHUNK, math.ceil(len(pending) / (workers * 4))))
    return [pending[start : start + size] for start in range(0, len(pending), size)]


# ------------------------------------------------------------------ the run


def migrate(
    database_url: str,
    *,
    tenant: str | None = None,
    concurrency: int = 2,
    include_platform: bool = True,
    include_tenants: bool = True,
    on_wait: Callable[[], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_progress: Callable[[str, TenantFailure | None], None] | None = None,
) -> MigrationReport:
    """Upgrade the platform schema, then the tenants that are behind.

    `on_wait()` is called if another run holds the lock; `on_plan(total, pending)` once the
    work is known; `on_progress(slug, failure)` after each tenant, for the progress bar.
    Raises UnknownTenant when `tenant` names no tenant.
    """
    started = time.perf_counter()
    report = MigrationReport(heads=tuple(sorted(tenant_heads())))
    engine = sync_engine(database_url, pool_size=2, max_overflow=0)
    try:
        with migration_lock(engine, on_wait) as waited:
            report.waited_for_lock = waited
            if include_platform:
                upgrade_platform(engine)
            if include_tenants:
                with engine.connect() as connection:
                    tenants = _tenants(connection, tenant)
                    if tenant is not None and not tenants:
                        raise UnknownTenant(f"no tenant with slug {tenant!r}")
                    versions = tenant_versions(connection, [schema for _, schema in tenants])
                heads = frozenset(report.heads)
                pending = [(slug, schema) for slug, schema in tenants if versions[schema] != heads]
                report.total = len(tenants)
                report.skipped = len(tenants) - len(pending)
                if on_plan:
                    on_plan(report.total, len(pending))
                if pending:
                    _run_pending(engine, database_url, pending, concurrency, report, on_progress)
    finally:
        engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _run_pending(engine, database_url, pending, concurrency, report, on_progress) -> None:
    def record(slug: str, failure: TenantFailure | None) -> None:
        if failure is None:
            report.upgraded.append(slug)
        else:
            report.failed.append(failure)
        if on_progress:
            on_progress(slug, failure)

    workers = max(1, min(concurrency, len(pending)))
    if workers == 1:
        # Not worth a process: the parent's own engine has a connection to spare.
        for slug, schema in pending:
            record(*_migrate_one(engine, slug, schema))
        return
    report.workers = workers
    # spawn, not fork: the parent holds open connections (the lock's among them) and threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(database_url,)
    ) as pool:
        futures = {pool.submit(_migrate_chunk, chunk): chunk for chunk in _chunks(pending, workers)}
        for future in as_completed(futures):
            try:
                results = future.result()
            except Exception as exc:  # a worker died (killed, out of memory): its chunk failed
                error = f"worker process failed: {describe_error(exc)}"
                results = [(slug, TenantFailure(slug, error, error)) for slug, _ in futures[future]]
            for slug, failure in results:
                record(slug, failure)
