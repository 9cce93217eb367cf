"""`kiunga migrate` as operators run it: a real process, its output and its exit code."""

from __future__ import annotations

import time

from alembic import command
from kiunga.migrations.support import TENANT_TRACK, alembic_config
from kiunga.platform.db.naming import schema_for_slug
from kiunga.platform.migrate import MIGRATE_LOCK_KEY, tenant_heads, tenant_revisions_in_order
from sqlalchemy import text

FIRST = tenant_revisions_in_order()[0]
HEAD = ", ".join(sorted(tenant_heads()))


def create(cli, slug: str, at: str | None = None) -> None:
    result = cli("tenants", "create", slug, "--name", slug, "--owner-email", "o@isp.example")
    assert result.exit_code == 0, result.output
    if at:
        # Back to an older revision with the real downgrade, as an older deploy left it.
        schema = schema_for_slug(slug)
        with cli.engine.begin() as connection:
            config = alembic_config(TENANT_TRACK, connection=connection, tenant_schema=schema)
            command.downgrade(config, at)


def version(cli, slug: str) -> str:
    schema = schema_for_slug(slug)
    return cli.scalar(f"SELECT string_agg(version_num, ',') FROM {schema}.alembic_version")


def test_a_failing_tenant_is_reported_and_the_exit_code_says_so(cli):
    for slug in ("good-one", "good-two"):
        create(cli, slug, at=FIRST)
    create(cli, "current")
    create(cli, "broken", at=FIRST)
    cli.execute("CREATE TABLE t_broken.outbox_events (id int)")

    process = cli.subprocess("migrate", "--concurrency", "2")
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 1, output
    assert "4 tenants: 1 already at head (skipped), 3 to migrate" in output
    assert "2 tenants migrated, 1 already at head, 1 failed" in output
    assert "Tenants that failed to migrate" in output
    failure_rows = [line for line in output.splitlines() if "broken" in line and "│" in line]
    assert failure_rows and "outbox_events" in output and "already exists" in output
    assert version(cli, "good-one") == version(cli, "good-two") == HEAD
    assert version(cli, "broken") == FIRST


def test_verbose_shows_the_full_error(cli):
    create(cli, "broken", at=FIRST)
    cli.execute("CREATE TABLE t_broken.outbox_events (id int)")
    result = cli("migrate", "--verbose")
    assert result.exit_code == 1
    assert "CREATE TABLE outbox_events" in result.output  # the statement, from the full error


def test_nothing_to_do(cli):
    create(cli, "current")
    result = cli("migrate")
    assert result.exit_code == 0, result.output
    assert "1 tenant: 1 already at head (skipped), 0 to migrate" in result.output


def test_one_tenant(cli):
    create(cli, "chosen", at=FIRST)
    create(cli, "other", at=FIRST)
    result = cli("migrate", "--tenant", "chosen")
    assert result.exit_code == 0, result.output
    assert (version(cli, "chosen"), version(cli, "other")) == (HEAD, FIRST)


def test_an_unknown_tenant_exits_2(cli):
    result = cli("migrate", "--tenant", "nobody")
    assert result.exit_code == 2
    assert "no tenant with slug 'nobody'" in result.stderr


def test_platform_only(cli):
    create(cli, "later", at=FIRST)
    result = cli("migrate", "--platform-only")
    assert result.exit_code == 0, result.output
    assert version(cli, "later") == FIRST


def test_concurrent_runs_are_serialised_by_the_advisory_lock(cli):
    for number in range(4):
        create(cli, f"isp-{number}", at=FIRST)
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    with cli.engine.connect() as holder:
        # Hold the lock so that both runs are surely waiting at once, then let them go.
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
        runs = [cli.subprocess("migrate", "--concurrency", "2") for _ in range(2)]
        deadline = time.monotonic() + 60
        while cli.scalar(str(waiting)) < 2:
            assert time.monotonic() < deadline, "the runs never queued for the lock"
            time.sleep(0.1)
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK_KEY})
        holder.commit()
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("waiting for it to finish" in output for output in outputs)
    # Exactly one of them did the work; the other found every tenant at head.
    migrated = sorted("4 tenants migrated" in output for output in outputs)
    skipped = sorted("4 already at head (skipped)" in output for output in outputs)
    assert migrated == skipped == [False, True], outputs
    assert {version(cli, f"isp-{n}") for n in range(4)} == {HEAD}
