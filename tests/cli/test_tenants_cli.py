"""`kiunga tenants …`: creation, bad input (exit 2, nothing created), listing, status, domains."""

from __future__ import annotations

import json

import pytest
from kiunga.platform.migrate import tenant_heads

CREATE = ("tenants", "create")


def owner(slug: str) -> tuple[str, ...]:
    return ("--name", f"ISP {slug}", "--owner-email", f"owner@{slug}.example")


def test_create_prints_the_host_and_the_one_time_password(cli):
    result = cli(*CREATE, "acme-net", *owner("acme-net"))
    assert result.exit_code == 0, result.output
    assert f"acme-net.{cli.base_domain}" in result.stdout
    assert "One-time password: " in result.stdout
    assert cli.scalar("SELECT status FROM platform.tenants WHERE slug = 'acme-net'") == "active"
    versions = cli.scalar("SELECT array_agg(version_num) FROM t_acme_net.alembic_version")
    assert set(versions) == tenant_heads()


def test_a_given_password_is_not_printed(cli):
    result = cli(*CREATE, "quiet", *owner("quiet"), "--owner-password", "long enough secret")
    assert result.exit_code == 0, result.output
    assert "password" not in result.stdout.lower()
    assert "long enough secret" not in result.output


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("Acme", "lowercase"),
        ("a" * 32, "3 to 31 characters"),
        ("ab", "3 to 31 characters"),
        ("platform", "reserved"),
        ("public", "reserved"),
        ("information_schema", "reserved"),
        ("pg_catalog", "reserved"),
        ("pg_anything", "reserved"),
        ("acme_net", "lowercase letters, digits and hyphens"),
        ("acme;drop", "lowercase letters, digits and hyphens"),
    ],
)
def test_an_invalid_slug_is_refused_and_nothing_is_created(cli, slug, reason):
    before = cli.counts()
    result = cli(*CREATE, slug, *owner("x"))
    assert result.exit_code == 2
    assert reason in result.stderr
    assert cli.counts() == before


def test_a_duplicate_slug_is_refused(cli):
    assert cli(*CREATE, "twice", *owner("twice")).exit_code == 0
    before = cli.counts()
    result = cli(*CREATE, "twice", "--name", "Other", "--owner-email", "other@x.example")
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert cli.counts() == before
    assert cli.scalar("SELECT name FROM platform.tenants WHERE slug = 'twice'") == "ISP twice"


def test_a_leftover_schema_is_never_adopted(cli):
    cli.execute("CREATE SCHEMA t_orphan; CREATE TABLE t_orphan.secrets (x text)")
    result = cli(*CREATE, "orphan", *owner("orphan"))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert cli.scalar("SELECT count(*) FROM platform.tenants WHERE slug = 'orphan'") == 0


def test_bad_owner_input_is_refused(cli):
    result = cli(*CREATE, "fine", "--name", "Fine", "--owner-email", "not-an-address")
    assert result.exit_code == 2 and "owner_email" in result.stderr
    result = cli(*CREATE, "fine", *owner("fine"), "--owner-password", "short")
    assert result.exit_code == 2 and "at least" in result.stderr
    assert cli.counts() == (0, 0)


def test_list_shows_hosts_and_migration_state(cli):
    cli(*CREATE, "alpha", *owner("alpha"))
    cli(*CREATE, "beta", *owner("beta"))
    cli.execute("UPDATE t_beta.alembic_version SET version_num = '0001'")
    result = cli("tenants", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["slug"]: row for row in json.loads(result.stdout)}
    assert rows["alpha"]["hosts"] == [f"alpha.{cli.base_domain}"]
    assert rows["alpha"]["at_head"] is True
    assert rows["beta"]["versions"] == ["0001"] and rows["beta"]["at_head"] is False
    table = cli("tenants", "list")
    assert table.exit_code == 0
    for text in ("alpha", "t_beta", f"beta.{cli.base_domain}", "active", "0001"):
        assert text in table.stdout


def test_disable_and_enable(cli):
    cli(*CREATE, "sleepy", *owner("sleepy"))
    assert cli("tenants", "disable", "sleepy").exit_code == 0
    assert cli.scalar("SELECT status FROM platform.tenants WHERE slug = 'sleepy'") == "disabled"
    assert cli("tenants", "enable", "sleepy").exit_code == 0
    assert cli.scalar("SELECT status FROM platform.tenants WHERE slug = 'sleepy'") == "active"
    result = cli("tenants", "disable", "nobody")
    assert result.exit_code == 2 and "no tenant with slug 'nobody'" in result.stderr


def test_add_domain(cli):
    cli(*CREATE, "hosted", *owner("hosted"))
    result = cli("tenants", "add-domain", "hosted", "WiFi.Hosted.co.ke")
    assert result.exit_code == 0, result.output
    assert (
        cli.scalar("SELECT kind FROM platform.tenant_domains WHERE host = 'wifi.hosted.co.ke'")
        == "custom"
    )
    for host, reason in [
        ("wifi.hosted.co.ke", "already in use"),
        (f"other.{cli.base_domain}", "assigned by slug"),
        ("not a host", "not a valid host name"),
    ]:
        result = cli("tenants", "add-domain", "hosted", host)
        assert result.exit_code == 2 and reason in result.stderr, host
    assert cli("tenants", "add-domain", "nobody", "x.example.com").exit_code == 2
