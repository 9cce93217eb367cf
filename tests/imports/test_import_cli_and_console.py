"""`kiunga import subscribers` and the console's upload page."""

from kiunga.platform.cli import app
from kiunga.platform.models import StaffRole
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

CSV = "Customer Name,Mobile,Account No,Area\nOtieno,0712111222,OT1,Kisumu\nBad,07,OT2,Kisumu\n"


def count(engine, schema) -> int:
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return session.scalar(select(func.count()).select_from(Subscriber))


def test_cli_dry_run_then_import_then_again(settings, make_tenant, engine, tmp_path):
    tenant = make_tenant()
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    command = ["import", "subscribers", str(path), "--tenant", tenant.slug]

    dry = CliRunner().invoke(app, [*command, "--dry-run"])
    assert dry.exit_code == 3, dry.output
    assert "would create 1" in dry.stdout and "nothing written" in dry.stdout
    assert "3" in dry.stdout and "phones" in dry.stdout  # row 3, field, reason
    assert count(engine, tenant.schema) == 0

    done = CliRunner().invoke(app, command)
    assert done.exit_code == 3 and "created 1" in done.stdout, done.output
    again = CliRunner().invoke(app, command)
    assert "created 0, updated 1" in again.stdout, again.output
    assert count(engine, tenant.schema) == 1

    path.write_text("Customer Name,Mobile,Account No\nOtieno,0712111222,OT1\n")
    clean = CliRunner().invoke(app, [*command, "--map", "Account No=account_number"])
    assert clean.exit_code == 0, clean.output


def test_cli_bad_input(settings, make_tenant, tmp_path):
    tenant = make_tenant()
    path = tmp_path / "x.csv"
    path.write_text("Mteja,Nambari\nA,0712111222\n")
    no_name = CliRunner().invoke(app, ["import", "subscribers", str(path), "--tenant", tenant.slug])
    assert no_name.exit_code == 2 and "name" in no_name.output
    mapped = CliRunner().invoke(
        app, ["import", "subscribers", str(path), "--tenant", tenant.slug, "--map", "Mteja=name"]
    )
    assert mapped.exit_code == 0, mapped.output
    unknown = CliRunner().invoke(app, ["import", "subscribers", str(path), "--tenant", "nobody"])
    assert unknown.exit_code == 2


async def test_console_upload(make_tenant, make_staff, client_for, login, csrf_token_in, engine):
    tenant = make_tenant()
    admin = client_for(tenant.host)
    await login(admin, make_staff(tenant.id, StaffRole.ADMIN))
    form = await admin.get("/imports/subscribers")
    assert form.status_code == 200
    token = csrf_token_in(form.text)
    files = {"file": ("customers.csv", CSV.encode(), "text/csv")}
    dry = await admin.post(
        "/imports/subscribers", data={"_csrf_token": token, "dry_run": "on"}, files=files
    )
    assert dry.status_code == 200, dry.text
    assert "Dry run of" in dry.text and "Nothing was written" in dry.text
    assert '<td data-label="Row">3</td>' in dry.text
    assert count(engine, tenant.schema) == 0
    done = await admin.post("/imports/subscribers", data={"_csrf_token": token}, files=files)
    assert "Imported" in done.text and count(engine, tenant.schema) == 1

    technician = client_for(tenant.host)
    await login(technician, make_staff(tenant.id, StaffRole.TECHNICIAN))
    assert (await technician.get("/imports/subscribers")).status_code == 403
