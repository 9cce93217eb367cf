"""The migration runner against a real database: skipping, upgrading, failing alone, locking."""

from __future__ import annotations

import threading
import time

import pytest
from kiunga.platform.migrate import (
    MIGRATE_LOCK_KEY,
    UnknownTenant,
    migrate,
    tenant_heads,
    tenant_revisions_in_order,
)
from sqlalchemy import text

FIRST = tenant_revisions_in_order()[0]


def test_tenants_at_head_are_skipped_without_starting_workers(scratch):
    for _ in range(3):
        scratch.make_tenant()
    report = migrate(scratch.url, concurrency=2)
    assert report.ok
    assert (report.total, report.skipped, report.upgraded, report.workers) == (3, 3, [], 0)


def test_tenants_behind_are_upgraded_in_worker_processes(scratch):
    behind = [scratch.make_tenant(target_revision=FIRST) for _ in range(3)]
    current = scratch.make_tenant()
    planned = []
    report = migrate(scratch.url, concurrency=2, on_plan=lambda *counts: planned.append(counts))
    assert report.ok, report.failed
    assert planned == [(4, 3)]
    assert sorted(report.upgraded) == sorted(t.slug for t in behind)
    assert report.workers == 2
    for tenant in [*behind, current]:
        assert scratch.versions(tenant.schema) == tenant_heads()


def test_a_schema_without_a_version_table_is_upgraded(scratch):
    tenant = scratch.make_tenant()
    scratch.execute(f'DROP SCHEMA "{tenant.schema}" CASCADE')
    scratch.execute(f'CREATE SCHEMA "{tenant.schema}"')
    report = migrate(scratch.url, concurrency=1)
    assert report.ok and report.upgraded == [tenant.slug]
    assert scratch.versions(tenant.schema) == tenant_heads()


def test_a_broken_tenant_fails_alone_and_is_named(scratch):
    good = [scratch.make_tenant(target_revision=FIRST) for _ in range(4)]
    clashing = scratch.make_tenant("clashing", target_revision=FIRST)
    # The next revision creates outbox_events; a table of that name is already there.
    scratch.execute(f'CREATE TABLE "{clashing.schema}".outbox_events (id int)')
    unversioned = scratch.make_tenant("unversioned")
    # Its tables exist but its version row is gone: the upgrade starts from nothing and clashes.
    scratch.execute(f'DELETE FROM "{unversioned.schema}".alembic_version')
    progress = []

    report = migrate(scratch.url, concurrency=2, on_progress=lambda *p: progress.append(p))

    assert not report.ok
    failures = {failure.slug: failure.error for failure in report.failed}
    assert set(failures) == {"clashing", "unversioned"}
    assert "outbox_events" in failures["clashing"] and "already exists" in failures["clashing"]
    assert "already exists" in failures["unversioned"]
    assert all("\n" not in error for error in failures.values())
    assert sorted(report.upgraded) == sorted(t.slug for t in good)
    assert len(progress) == 6
    # Rolled back whole: still at the first revision, not half-way.
    assert scratch.versions(clashing.schema) == {FIRST}
    for tenant in good:
        assert scratch.versions(tenant.schema) == tenant_heads()


def test_one_tenant_only(scratch):
    chosen, other = (scratch.make_tenant(target_revision=FIRST) for _ in range(2))
    report = migrate(scratch.url, tenant=chosen.slug, concurrency=2)
    assert (report.total, report.upgraded, report.workers) == (1, [chosen.slug], 0)
    assert scratch.versions(other.schema) == {FIRST}


def test_an_unknown_tenant_is_an_error(scratch):
    with pytest.raises(UnknownTenant, match="no tenant with slug 'nobody'"):
        migrate(scratch.url, tenant="nobody")


def test_platform_only_leaves_tenants_alone(scratch):
    tenant = scratch.make_tenant(target_revision=FIRST)
    report = migrate(scratch.url, include_tenants=False)
    assert report.ok and report.total == 0
    assert scratch.versions(tenant.schema) == {FIRST}


def test_a_run_waits_for_the_run_holding_the_lock(scratch):
    tenant = scratch.make_tenant(target_revision=FIRST)
    waiting = threading.Event()
    reports = []
    with scratch.engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
        run = threading.Thread(
            target=lambda: reports.append(migrate(scratch.url, concurrency=1, on_wait=waiting.set))
        )
        run.start()
        assert waiting.wait(60)
        time.sleep(0.3)
        assert run.is_alive() and scratch.versions(tenant.schema) == {FIRST}
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK_KEY})
        holder.commit()
    run.join(30)
    assert reports and reports[0].waited_for_lock and reports[0].upgraded == [tenant.slug]


@pytest.fixture
def two_heads(tmp_path, monkeypatch):
    """The tenant track with two unmerged branches on top of today's head."""
    import shutil

    from kiunga.migrations import support
    from kiunga.platform import migrate as runner

    head = tenant_revisions_in_order()[-1]
    for track in ("platform", "tenant"):
        shutil.copytree(support.MIGRATIONS_DIR / track, tmp_path / track)
    for branch in ("a", "b"):
        (tmp_path / "tenant" / "versions" / f"9000{branch}_branch.py").write_text(
            f'"""branch {branch}"""\n'
            "from alembic import op\n"
            "import sqlalchemy as sa\n"
            f'revision = "9000{branch}"\n'
            f'down_revision = "{head}"\n'
            "branch_labels = None\n"
            "depends_on = None\n\n\n"
            "def upgrade():\n"
            f'    op.create_table("branch_{branch}", sa.Column("id", sa.Integer))\n'
        )
    runner._script.cache_clear()
    monkeypatch.setattr(support, "MIGRATIONS_DIR", tmp_path)
    yield {"9000a", "9000b"}
    runner._script.cache_clear()


def test_unmerged_heads_are_all_applied_and_then_skipped(scratch, two_heads):
    assert tenant_heads() == two_heads
    created = scratch.make_tenant()
    assert scratch.versions(created.schema) == two_heads
    behind = scratch.make_tenant(target_revision=FIRST)
    report = migrate(scratch.url, concurrency=1)
    assert report.ok and report.upgraded == [behind.slug] and report.skipped == 1
    assert scratch.versions(behind.schema) == two_heads
    assert migrate(scratch.url, concurrency=1).skipped == 2
