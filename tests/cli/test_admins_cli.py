"""`kiunga admins …`: platform administrators, who then sign in on the base domain."""

from __future__ import annotations

from kiunga.platform.auth.passwords import verify_password


def test_create_a_platform_admin_with_a_generated_password(cli):
    result = cli("admins", "create", "Root@Example.COM", "--name", "Wanjiru")
    assert result.exit_code == 0, result.output
    password = result.stdout.split("password (shown once): ")[1].split()[0]
    stored = cli.scalar(
        "SELECT password_hash FROM platform.staff_accounts "
        "WHERE email = 'root@example.com' AND is_platform_admin"
    )
    assert stored and verify_password(stored, password)
    listed = cli("admins", "list")
    assert listed.exit_code == 0 and "root@example.com" in listed.output


def test_granting_the_role_to_an_existing_account_leaves_its_password(cli, make_tenant):
    cli(
        "tenants",
        "create",
        "ops-isp",
        "--name",
        "Ops",
        "--owner-email",
        "boss@ops.example",
        "--owner-password",
        "the owners secret",
    )
    before = cli.scalar(
        "SELECT password_hash FROM platform.staff_accounts WHERE email = 'boss@ops.example'"
    )
    result = cli("admins", "create", "boss@ops.example", "--password", "attackers choice")
    assert result.exit_code == 0, result.output
    assert "password unchanged" in result.stdout
    after = cli.scalar(
        "SELECT password_hash FROM platform.staff_accounts "
        "WHERE email = 'boss@ops.example' AND is_platform_admin"
    )
    assert after == before


def test_bad_input_is_refused_and_nothing_is_created(cli):
    for args, field in (
        (("not-an-email",), "email"),
        (("ok@example.com", "--password", "short"), "password"),
    ):
        result = cli("admins", "create", *args)
        assert result.exit_code == 2, result.output
        assert f"{field}:" in result.output
    assert cli.scalar("SELECT count(*) FROM platform.staff_accounts") == 0
