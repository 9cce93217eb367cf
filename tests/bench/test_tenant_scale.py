"""Tenant scale: 1,000 ISPs created, migrated with nothing to do, migrated one revision, served.

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench -s -p no:cacheprovider`. Everything
runs against an embedded PostgreSQL in a temporary directory of its own. The tests run in
order and build on each other; the figures are printed as they come and as a table at the
end, ready for the README's performance table.

KIUNGA_BENCH_TENANTS and KIUNGA_BENCH_TIMED change the number of tenants and how many of them
are created (and timed) one by one through `create_tenant` with a fresh owner account each;
the rest are created at the revision before head by parallel processes, to save time.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from kiunga.migrations.support import TENANT_TRACK, alembic_config
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.devservices import EmbeddedPostgres, EmbeddedValkey
from kiunga.platform.migrate import migrate, tenant_revisions_in_order
from kiunga.platform.tenant_admin import create_tenant
from sqlalchemy import Engine, text

TENANTS = int(os.environ.get("KIUNGA_BENCH_TENANTS", "1000"))
TIMED = min(TENANTS, int(os.environ.get("KIUNGA_BENCH_TIMED", "100")))
CPUS = os.cpu_count() or 2
BASE_DOMAIN = "kiunga.bench"
BEHIND = tenant_revisions_in_order()[-2]  # so that migrating applies exactly one revision
KIUNGA = Path(sys.executable).with_name("kiunga")

# Creates the tenants named on its command line at a revision, with one shared owner account
# (so no password hash per tenant: those are timed separately, one by one).
BULK_CREATE = """
import sys
from kiunga.platform.db.engine import sync_engine
from kiunga.platform.tenant_admin import create_tenant
url, base_domain, revision, *slugs = sys.argv[1:]
engine = sync_engine(url, pool_size=1, max_overflow=0)
for slug in slugs:
    create_tenant(engine, slug=slug, name="ISP " + slug, owner_email="owner@bulk.example",
                  owner_password="bulk owner password", base_domain=base_domain,
                  target_revision=revision)
"""

figures: list[tuple[str, str, str]] = []  # what, measured, goal


def report(what: str, measured: str, goal: str = "") -> None:
    figures.append((what, measured, goal))
    print(f"\n[bench] {what}: {measured}" + (f"  (goal {goal})" if goal else ""), flush=True)


@dataclass
class Bench:
    directory: Path
    url: str
    engine: Engine
    env: dict[str, str]

    def slugs(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(text("SELECT slug FROM platform.tenants")).scalars())


@pytest.fixture(scope="module")
def bench():
    # Short path: PostgreSQL's unix socket lives in it and socket paths are limited.
    directory = Path(tempfile.mkdtemp(prefix="kb", dir="/tmp"))
    postgres = EmbeddedPostgres(directory / "postgres")
    valkey = EmbeddedValkey(directory / "valkey")
    url = postgres.acquire()
    redis_url = valkey.acquire()
    env = {
        **os.environ,
        "KIUNGA_DATABASE_URL": url,
        "KIUNGA_REDIS_URL": redis_url,
        "KIUNGA_DATA_DIR": str(directory / "data"),
        "KIUNGA_SECRET_KEY": secrets.token_urlsafe(48),
        "KIUNGA_BASE_DOMAIN": BASE_DOMAIN,
        "KIUNGA_ENV": "test",
        "KIUNGA_LOG_LEVEL": "WARNING",
    }
    assert migrate(url, include_tenants=False).ok
    engine = sync_engine(url)
    try:
        yield Bench(directory, url, engine, env)
    finally:
        engine.dispose()
        valkey.release()
        postgres.release()
        valkey.stop()
        postgres.stop()
        shutil.rmtree(directory, ignore_errors=True)
        _print_table()


def _print_table() -> None:
    print(f"\n\nBenchmark: {TENANTS} tenants, {CPUS} CPUs, embedded PostgreSQL\n")
    print("| measure | result | goal |")
    print("|---|---|---|")
    for what, measured, goal in figures:
        print(f"| {what} | {measured} | {goal} |")


def test_create_tenants(bench):
    durations = []
    for number in range(TIMED):
        slug = f"timed-{number:04d}"
        started = time.perf_counter()
        created = create_tenant(
            bench.engine,
            slug=slug,
            name=f"ISP {slug}",
            owner_email=f"owner@{slug}.example",
            base_domain=BASE_DOMAIN,
        )
        durations.append(time.perf_counter() - started)
        assert created.owner_password  # a real owner account, password hashed
    median = statistics.median(durations)
    p95 = statistics.quantiles(durations, n=20)[18] if len(durations) >= 2 else durations[0]
    report(
        f"create one tenant through create_tenant (median of {TIMED})",
        f"{median * 1000:.0f} ms",
        "< 500 ms",
    )
    report(f"create one tenant, p95 of {TIMED}", f"{p95 * 1000:.0f} ms")

    started = time.perf_counter()
    _create_the_rest_in_parallel(bench)
    report(
        f"create the other {TENANTS - TIMED} tenants at {BEHIND}, {CPUS} processes",
        f"{time.perf_counter() - started:.1f} s",
    )
    _downgrade_timed_tenants(bench)
    assert len(bench.slugs()) == TENANTS
    assert median < 0.5


def _create_the_rest_in_parallel(bench: Bench) -> None:
    rest = [f"isp-{number:04d}" for number in range(TENANTS - TIMED)]
    if not rest:
        return
    # The shared owner first, so the processes do not race to create it.
    create_tenant(
        bench.engine,
        slug=rest[0],
        name="ISP",
        owner_email="owner@bulk.example",
        owner_password="bulk owner password",
        base_domain=BASE_DOMAIN,
        target_revision=BEHIND,
    )
    shares = [rest[1:][index::CPUS] for index in range(CPUS)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", BULK_CREATE, bench.url, BASE_DOMAIN, BEHIND, *share],
            env=bench.env,
        )
        for share in shares
        if share
    ]
    assert [process.wait(timeout=900) for process in processes] == [0] * len(processes)


def _downgrade_timed_tenants(bench: Bench) -> None:
    """Bring the timed tenants (made at head) to the same revision as the others."""
    for number in range(TIMED):
        with bench.engine.begin() as connection:
            config = alembic_config(
                TENANT_TRACK, connection=connection, tenant_schema=f"t_timed_{number:04d}"
            )
            command.downgrade(config, BEHIND)


def test_apply_one_revision_to_every_tenant(bench):
    result = migrate(bench.url, concurrency=CPUS)
    assert result.ok, result.failed[:5]
    assert len(result.upgraded) == TENANTS
    report(
        f"apply one revision to {TENANTS} tenants (runner, {result.workers} processes)",
        f"{result.seconds:.1f} s",
    )


def test_migrate_with_nothing_to_apply(bench):
    runs = [migrate(bench.url, concurrency=CPUS) for _ in range(3)]
    for result in runs:
        assert result.ok and result.skipped == TENANTS and result.workers == 0
    seconds = statistics.median(result.seconds for result in runs)
    report(
        f"migrate runner, {TENANTS} tenants, nothing to apply (median of 3)",
        f"{seconds:.2f} s",
        "< 20 s",
    )
    assert seconds < 20


def test_kiunga_migrate_command_with_nothing_to_apply(bench):
    durations = []
    for _ in range(3):
        started = time.perf_counter()
        finished = subprocess.run(
            [str(KIUNGA), "migrate"], env=bench.env, capture_output=True, text=True, timeout=120
        )
        durations.append(time.perf_counter() - started)
        assert finished.returncode == 0, finished.stderr
        assert f"{TENANTS} already at head (skipped), 0 to migrate" in finished.stderr
    seconds = statistics.median(durations)
    report(
        f"`kiunga migrate` process, {TENANTS} tenants, nothing to apply (median of 3)",
        f"{seconds:.2f} s",
        "< 20 s",
    )
    assert seconds < 20


def test_api_memory_after_resolving_every_tenant(bench):
    """RSS of `kiunga serve` after each tenant was resolved by host (its sign-in page), then
    after each tenant's own schema was queried through an API key (its sites)."""
    import httpx
    import psutil

    tokens = _one_api_key_per_tenant(bench)
    port = _free_port()
    env = {**bench.env, "KIUNGA_HOST": "127.0.0.1", "KIUNGA_PORT": str(port)}
    log = (bench.directory / "serve.log").open("w")
    server = subprocess.Popen([str(KIUNGA), "serve"], env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            _wait_until_serving(client, server, bench.directory / "serve.log")
            process = psutil.Process(server.pid)
            at_start = _tree_rss(process)
            started = time.perf_counter()
            for slug in tokens:
                # The tenant's sign-in page: an unknown host would get 404.
                response = client.get("/login", headers={"Host": f"{slug}.{BASE_DOMAIN}"})
                assert response.status_code == 200, (slug, response.status_code)
            by_host = time.perf_counter() - started
            after_hosts = _tree_rss(process)
            started = time.perf_counter()
            for slug, token in tokens.items():
                response = client.get(
                    "/api/v1/sites",
                    headers={"Host": f"{slug}.{BASE_DOMAIN}", "Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, (slug, response.status_code)
            by_key = time.perf_counter() - started
            after_queries = _tree_rss(process)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    mib = 2**20
    report("API process memory (RSS) at start", f"{at_start / mib:.0f} MiB")
    report(
        f"API process memory (RSS) after resolving {TENANTS} tenants by host",
        f"{after_hosts / mib:.0f} MiB",
    )
    report(
        f"API process memory (RSS) after querying {TENANTS} tenant schemas by API key",
        f"{after_queries / mib:.0f} MiB",
    )
    report(
        f"{TENANTS} requests, one per tenant, one client: sign-in page / API with key",
        f"{by_host / TENANTS * 1000:.1f} ms / {by_key / TENANTS * 1000:.1f} ms per request",
    )


def _one_api_key_per_tenant(bench: Bench) -> dict[str, str]:
    from kiunga.platform.auth.api_keys import KeyRequest, create_api_key_sync

    with bench.engine.connect() as connection:
        tenants = connection.execute(text("SELECT slug, id FROM platform.tenants")).all()
    secret_key = bench.env["KIUNGA_SECRET_KEY"]
    return {
        slug: create_api_key_sync(
            bench.engine,
            KeyRequest(scopes=("sites:read",), tenant_id=tenant_id),
            secret_key=secret_key,
        ).token
        for slug, tenant_id in tenants
    }


def _wait_until_serving(client, server, log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log_path.read_text()
        try:
            if client.get("/healthz", headers={"Host": BASE_DOMAIN}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"`kiunga serve` did not answer; see {log_path.read_text()}")


def _tree_rss(process) -> int:
    """The server's resident memory, with any worker processes it started."""
    return process.memory_info().rss + sum(
        child.memory_info().rss for child in process.children(recursive=True)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
