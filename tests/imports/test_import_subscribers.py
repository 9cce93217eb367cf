"""Importing subscribers from CSV: mapping, per-row report, dry run, idempotence."""

from kiunga.tenants.imports.columns import build_mapping, guess_mapping
from kiunga.tenants.imports.subscribers import import_actor, import_subscribers, read_csv
from kiunga.tenants.sites.models import Site
from kiunga.tenants.subscribers.models import (
    Subscriber,
    SubscriberPhone,
    SubscriberStatusChange,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

CSV = """\ufeffName,Phone No.,Account,Region,Email,Location/Estate,House,Status,Site
Achieng Otieno,0712345678,KB001,Nairobi,achieng@mail.test,Umoja,B4,active,Umoja POP
Brian Kiprop,712000111 / 0733000222,kb002,Eldoret,,Pioneer,,suspended,
Cynthia,0712,KB003,Nairobi,,,,,
David,0722000333,,Kisumu,david@mail,,,,
Esther Wambui,0722000444,,Nyeri,,,,lead,
Fatuma,0722000555,KB001,Mombasa,,,,,
Grace,0722000666,KB007,Nairobi,,,,,Nowhere
"""


def counts(engine, schema):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Subscriber, SubscriberPhone, SubscriberStatusChange)
        )


def subscribers(engine, schema):
    mapped = engine.execution_options(schema_translate_map={None: schema})
    with Session(mapped) as session:
        rows = session.scalars(select(Subscriber).order_by(Subscriber.name)).all()
        return {s.name: (s.account_number, s.status.value, [p.phone for p in s.phones],
                         s.region, s.address, s.unit, s.site_id) for s in rows}  # fmt: skip


async def run(database, tenant, text, *, dry_run=False, mapping=None):
    headers, records = read_csv(text.encode())
    async with database.tenant_session(tenant.schema) as session:
        report = await import_subscribers(
            session,
            records,
            mapping or build_mapping(headers),
            dry_run=dry_run,
            actor=import_actor("test.csv"),
        )
        await session.commit()
    return report


def with_site(engine, tenant):
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session, session.begin():
        site = Site(name="Umoja POP")
        session.add(site)
        session.flush()
        return site.id


def test_headers_are_recognised():
    headers = ["Full Name", "MSISDN", "Acc No", "County", "E-mail", "Location/Estate", "Hse No"]
    assert guess_mapping(headers) == {
        "name": "Full Name", "phones": "MSISDN", "account_number": "Acc No",
        "region": "County", "email": "E-mail", "address": "Location/Estate", "unit": "Hse No",
    }  # fmt: skip


async def test_dry_run_reports_every_bad_row_and_writes_nothing(database, make_tenant, engine):
    tenant = make_tenant()
    with_site(engine, tenant)
    report = await run(database, tenant, CSV, dry_run=True)
    assert report.dry_run and report.rows == 7
    assert [(p.row, p.field) for p in report.problems] == [
        (4, "phones"), (5, "email"), (7, "account_number"), (8, "site")
    ]  # fmt: skip
    assert "repeats row 2" in report.problems[2].reason
    assert (report.created, report.updated) == (3, 0)
    assert counts(engine, tenant.schema) == (0, 0, 0)


async def test_import_then_again_changes_nothing(database, make_tenant, engine):
    tenant = make_tenant()
    site_id = with_site(engine, tenant)
    first = await run(database, tenant, CSV)
    assert (first.created, first.updated, len(first.problems)) == (3, 0, 4)
    people = subscribers(engine, tenant.schema)
    assert people["Achieng Otieno"] == (
        "KB001", "active", ["+254712345678"], "Nairobi", "Umoja", "B4", site_id
    )  # fmt: skip
    assert people["Brian Kiprop"][:3] == ("KB002", "suspended", ["+254712000111", "+254733000222"])
    generated = people["Esther Wambui"][0]
    assert generated.isdigit() and people["Esther Wambui"][1] == "lead"
    before = counts(engine, tenant.schema)
    assert before == (3, 4, 3)

    second = await run(database, tenant, CSV)
    assert (second.created, second.updated) == (0, 3)
    assert counts(engine, tenant.schema) == before
    assert subscribers(engine, tenant.schema) == people  # the phone found Esther again

    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session:
        labels = set(session.scalars(select(SubscriberStatusChange.changed_by)))
    assert labels == {"import:test.csv"}


async def test_updates_keep_what_empty_cells_leave_and_record_status_moves(
    database, make_tenant, engine
):
    tenant = make_tenant()
    await run(database, tenant, "Name,Account,Region,Phone\nJuma,AC1,Nakuru,0712000999\n")
    report = await run(database, tenant, "Account,Name,Region,Status\nAC1,Juma Ali,,suspended\n")
    assert (report.created, report.updated) == (0, 1)
    assert subscribers(engine, tenant.schema)["Juma Ali"][:4] == (
        "AC1", "suspended", ["+254712000999"], "Nakuru"
    )  # fmt: skip
    mapped = engine.execution_options(schema_translate_map={None: tenant.schema})
    with Session(mapped) as session:
        moves = session.execute(
            select(SubscriberStatusChange.from_status, SubscriberStatusChange.to_status).order_by(
                SubscriberStatusChange.id
            )
        ).all()
    assert [(a and a.value, b.value) for a, b in moves] == [
        (None, "active"), ("active", "suspended")
    ]  # fmt: skip

    await run(database, tenant, "Account,Name,Status\nAC1,Juma Ali,terminated\n")
    refused = await run(database, tenant, "Account,Name,Status\nAC1,Juma Ali,active\n")
    assert [(p.row, p.field) for p in refused.problems] == [(2, "status")]


async def test_explicit_mapping(database, make_tenant, engine):
    from kiunga.tenants.imports.columns import parse_overrides

    tenant = make_tenant()
    text = "Jina,Simu,Kumbukumbu\nWanjiru,0711222333,mteja mzuri\n"
    headers, _ = read_csv(text)
    mapping = build_mapping(headers, parse_overrides(["Kumbukumbu=notes"], headers))
    report = await run(database, tenant, text, mapping=mapping)
    assert report.created == 1
    assert subscribers(engine, tenant.schema)["Wanjiru"][2] == ["+254711222333"]
