"""Reports over a known scenario in Nairobi time (UTC+3): exact figures, JSON and CSV."""

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from kiunga.platform.db.engine import Database
from kiunga.platform.models import StaffRole
from kiunga.tenants.actors import SYSTEM
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.billing.invoices import InvoiceLineInput, issue_invoice
from kiunga.tenants.billing.payments import record_payment
from kiunga.tenants.catalog.models import BillingType, Package, ServiceType, ValidityUnit
from kiunga.tenants.network.radius.models import UsageDaily
from kiunga.tenants.services.models import Service, ServiceStatus
from kiunga.tenants.subscribers.models import Subscriber, SubscriberStatus, SubscriberStatusChange
from sqlalchemy import update

EAT = timezone(timedelta(hours=3))
Q1 = "from=2026-01-01&to=2026-03-31"
S = SubscriberStatus


def eat(year, month, day, hour=12):
    return datetime(year, month, day, hour, tzinfo=EAT)


def auth(key):
    return {"Authorization": f"Bearer {key}"}


async def _build(session):
    packages = {}
    for name, price in (("Home 10M", 250000), ("Home 20M", 400000), ("Hotspot 1h", 2000)):
        packages[name] = Package(
            name=name,
            price=price,
            currency="KES",
            billing_type=BillingType.POSTPAID,
            validity_count=1,
            validity_unit=ValidityUnit.MONTH,
            service_type=ServiceType.PPPOE,
            rate_limit="5M/10M",
        )
    session.add_all(packages.values())
    people = {}
    for account, name, region in (
        ("A1", "Amina", "Nairobi"),
        ("B2", "Brian", "Nairobi"),
        ("C3", "Chebet", "Kisumu"),
        ("D4", "Daudi", ""),
    ):
        people[account] = Subscriber(
            account_number=account, name=name, region=region, status=S.ACTIVE
        )
    session.add_all(people.values())
    await session.flush()

    def history(account, old, new, when):
        session.add(
            SubscriberStatusChange(
                subscriber_id=people[account].id,
                from_status=old,
                to_status=new,
                changed_by="system",
                changed_at=when,
            )
        )

    history("D4", None, S.LEAD, eat(2026, 1, 1))
    history("A1", S.LEAD, S.ACTIVE, eat(2026, 1, 10))
    history("B2", S.LEAD, S.ACTIVE, eat(2026, 1, 15))
    history("B2", S.ACTIVE, S.TERMINATED, eat(2026, 2, 20))
    history("C3", S.LEAD, S.ACTIVE, eat(2026, 2, 5))
    history("C3", S.ACTIVE, S.SUSPENDED, eat(2026, 3, 10))

    def service(account, package, status, activated):
        return Service(
            subscriber_id=people[account].id,
            package_id=packages[package].id,
            service_type=ServiceType.PPPOE,
            status=status,
            activated_at=activated,
            period_start=activated,
            expires_at=activated + timedelta(days=30),
            username=f"user-{account}",
        )

    services = {
        "A1": service("A1", "Home 10M", ServiceStatus.ACTIVE, eat(2026, 1, 10)),
        "B2": service("B2", "Home 10M", ServiceStatus.TERMINATED, eat(2026, 1, 15)),
        "C3": service("C3", "Home 20M", ServiceStatus.SUSPENDED, eat(2026, 2, 5)),
    }
    session.add_all(services.values())
    await session.flush()
    # RADIUS accounting's daily usage (input = upload, output = download); one day in
    # April lies outside Q1.
    for account, day, upload, download in (
        ("A1", date(2026, 1, 11), 1_000, 50_000),
        ("A1", date(2026, 3, 31), 2_000, 70_000),
        ("A1", date(2026, 4, 1), 9_000_000, 9_000_000),
        ("C3", date(2026, 2, 6), 500_000, 400_000),
    ):
        session.add(
            UsageDaily(service_id=services[account].id, subscriber_id=people[account].id,
                       day=day, input_octets=upload, output_octets=download)
        )  # fmt: skip

    async def invoice(account, amount, issued, due, with_service=True):
        line = InvoiceLineInput(
            "Internet",
            1,
            amount,
            service_id=services[account].id if with_service else None,
        )
        await issue_invoice(
            session, people[account].id, [line], due_at=due, actor=SYSTEM, issued_at=issued
        )

    async def pay(account, amount, received, reference):
        await record_payment(
            session,
            people[account].id,
            amount,
            method="mpesa",
            reference=reference,
            received_at=received,
            actor=SYSTEM,
        )

    # In the order it happened, so payments meet the invoices open at the time.
    await invoice("D4", 100000, eat(2025, 11, 1), eat(2025, 11, 15, 0), with_service=False)
    await invoice("A1", 250000, eat(2026, 1, 10), eat(2026, 1, 17, 0))
    await pay("A1", 250000, eat(2026, 1, 11, 10), "QA1")
    await invoice("D4", 50000, eat(2026, 1, 13), eat(2026, 1, 20, 0), with_service=False)
    # 01:00 in Nairobi on 1 February is still 31 January in UTC.
    await pay("A1", 100000, eat(2026, 2, 1, 1), "QA2")
    await invoice("C3", 400000, eat(2026, 2, 5), eat(2026, 2, 12, 0))
    await pay("C3", 150000, eat(2026, 2, 6, 9), "QC3")
    await invoice("A1", 250000, eat(2026, 2, 10), eat(2026, 2, 17, 0))
    await pay("B2", 30000, eat(2026, 2, 10), "QB4")
    await invoice("A1", 250000, eat(2026, 3, 20), eat(2026, 3, 25, 0))

    for account, status in (("B2", S.TERMINATED), ("C3", S.SUSPENDED), ("D4", S.LEAD)):
        await session.execute(
            update(Subscriber).where(Subscriber.id == people[account].id).values(status=status)
        )
    await assert_ledger_invariants(session)


@pytest.fixture
async def scenario(make_tenant, database_url):
    tenant = make_tenant()
    database = Database(database_url)
    try:
        async with database.tenant_session(tenant.schema) as session, session.begin():
            await _build(session)
    finally:
        await database.dispose()
    return tenant


@pytest.fixture
async def reports(scenario, client_for, make_key):
    client = client_for(scenario.host)
    key = make_key(scenario.id, ("reports:read",))

    async def fetch(name, query=Q1, **headers):
        response = await client.get(
            f"/api/v1/reports/{name}?{query}", headers={**auth(key), **headers}
        )
        assert response.status_code == 200, response.text
        return response

    return fetch


def rows(response):
    return [tuple(row.values()) for row in response.json()["rows"]]


async def test_revenue_by_local_day_and_month(reports):
    by_day = await reports("revenue-by-day")
    body = by_day.json()
    assert (body["from"], body["to"], body["timezone"], body["currency"]) == (
        "2026-01-01",
        "2026-03-31",
        "Africa/Nairobi",
        "KES",
    )
    assert len(body["rows"]) == 90
    assert [r for r in rows(by_day) if r[1]] == [
        ("2026-01-11", 1, 250000),
        ("2026-02-01", 1, 100000),
        ("2026-02-06", 1, 150000),
        ("2026-02-10", 1, 30000),
    ]
    assert rows(await reports("revenue-by-month")) == [
        ("2026-01", 1, 250000),
        ("2026-02", 3, 280000),
        ("2026-03", 0, 0),
    ]
    january = await reports("revenue-by-month", "from=2026-01-01&to=2026-01-31")
    assert rows(january) == [("2026-01", 1, 250000)]


async def test_revenue_by_package_and_region(reports):
    assert rows(await reports("revenue-by-package")) == [
        ("Home 10M", 350000),
        ("Home 20M", 150000),
        ("(not yet allocated)", 30000),
    ]
    assert rows(await reports("revenue-by-region")) == [
        ("Nairobi", 3, 380000),
        ("Kisumu", 1, 150000),
    ]


async def test_overdue_aging(reports):
    assert rows(await reports("overdue-aging")) == [
        ("0-30", 1, 250000),
        ("31-60", 2, 400000),
        ("61-90", 1, 50000),
        ("90+", 1, 100000),
    ]
    # As of 10 February only the November debt (87 days) and January's (21) were overdue.
    assert rows(await reports("overdue-aging", "from=2026-02-01&to=2026-02-10")) == [
        ("0-30", 1, 50000),
        ("31-60", 0, 0),
        ("61-90", 1, 100000),
        ("90+", 0, 0),
    ]


async def test_subscribers_churn_arpu_and_packages(reports):
    assert rows(await reports("subscriber-status")) == [
        ("lead", 1),
        ("pending_installation", 0),
        ("active", 1),
        ("suspended", 1),
        ("terminated", 1),
    ]
    assert rows(await reports("churn")) == [
        ("2026-01", 0, 0, None),
        ("2026-02", 2, 1, 50.0),
        ("2026-03", 2, 0, 0.0),
    ]
    assert rows(await reports("arpu")) == [
        ("2026-01", 250000, 2, 125000),
        ("2026-02", 280000, 3, 93333),
        ("2026-03", 0, 2, 0),
    ]
    assert rows(await reports("package-popularity")) == [
        ("Home 10M", 1, 0, 1, 2),
        ("Home 20M", 0, 1, 1, 1),
        ("Hotspot 1h", 0, 0, 0, 0),
    ]


async def test_data_usage_by_subscriber(reports):
    assert rows(await reports("data-usage")) == [
        ("C3", "Chebet", 400_000, 500_000, 900_000, 1),
        ("A1", "Amina", 120_000, 3_000, 123_000, 2),
    ]


async def test_csv_by_parameter_or_accept_header(reports):
    by_parameter = await reports("revenue-by-month", Q1 + "&format=csv")
    assert by_parameter.headers["content-type"].startswith("text/csv")
    assert (
        "revenue-by-month_2026-01-01_2026-03-31.csv" in by_parameter.headers["content-disposition"]
    )
    parsed = list(csv.DictReader(io.StringIO(by_parameter.text)))
    assert parsed == [
        {"month": "2026-01", "payments": "1", "amount": "250000"},
        {"month": "2026-02", "payments": "3", "amount": "280000"},
        {"month": "2026-03", "payments": "0", "amount": "0"},
    ]
    by_header = await reports("churn", Accept="text/csv")
    churn = list(csv.reader(io.StringIO(by_header.text)))
    assert churn[0] == ["month", "active_at_start", "terminated", "churn_percent"]
    assert churn[1:] == [
        ["2026-01", "0", "0", ""],
        ["2026-02", "2", "1", "50.0"],
        ["2026-03", "2", "0", "0.0"],
    ]


async def test_bad_parameters_name_the_field(client_for, make_tenant, make_key):
    tenant = make_tenant()
    client = client_for(tenant.host)
    key = make_key(tenant.id, ("reports:read",))
    for query, field in (
        ("from=2026-03-01&to=2026-02-01", "from"),
        ("to=31-03-2026", "to"),
        ("from=yesterday", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("format=xml", "format"),
    ):
        response = await client.get(f"/api/v1/reports/arpu?{query}", headers=auth(key))
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] == field, query
    missing = await client.get("/api/v1/reports/profit", headers=auth(key))
    assert missing.status_code == 404
    listed = await client.get("/api/v1/reports", headers=auth(key))
    assert "overdue-aging" in [r["name"] for r in listed.json()]
    # Without a period: the last 30 days, ending today.
    default = await client.get("/api/v1/reports/revenue-by-day", headers=auth(key))
    assert len(default.json()["rows"]) == 30


async def test_who_may_read_reports(client_for, make_tenant, make_key, answers_by_role):
    tenant = make_tenant()
    client = client_for(tenant.host)
    tickets_only = make_key(tenant.id, ("tickets:read",))
    assert (await client.get("/api/v1/reports/arpu", headers=auth(tickets_only))).status_code == 403
    allowed = {
        StaffRole.OWNER: True,
        StaffRole.ADMIN: True,
        StaffRole.FINANCE: True,
        StaffRole.SUPPORT: False,
        StaffRole.TECHNICIAN: False,
    }
    answers = await answers_by_role(tenant, allowed, "/reports", "/api/v1/reports/churn")
    assert answers == {role: (200, 200) if ok else (403, 403) for role, ok in allowed.items()}


async def test_console_reports_page(scenario, client_for, make_staff, login):
    client = client_for(scenario.host)
    await login(client, make_staff(scenario.id, StaffRole.FINANCE))
    page = await client.get(f"/reports?{Q1}")
    assert page.status_code == 200
    assert "Overdue aging" in page.text and "Home 10M" in page.text and "380000" in page.text
    assert "/api/v1/reports/arpu?from=2026-01-01&amp;to=2026-03-31&amp;format=csv" in page.text
    bad = await client.get("/reports?from=2026-03-01&to=2026-01-01")
    assert bad.status_code == 400 and "from must not be after to" in bad.text


def test_nairobi_is_utc_plus_three():
    # The scenario's dates above assume it; guard against a surprise in tzdata.
    from zoneinfo import ZoneInfo

    assert datetime(2026, 2, 1, tzinfo=ZoneInfo("Africa/Nairobi")).utcoffset() == timedelta(hours=3)
    assert eat(2026, 2, 1, 1).astimezone(UTC).day == 31


async def test_buckets_follow_the_tenants_timezone(scenario, reports, engine):
    from kiunga.platform.models import Tenant
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        session.execute(update(Tenant).where(Tenant.id == scenario.id).values(timezone="UTC"))
    by_day = await reports("revenue-by-day", "from=2026-01-31&to=2026-02-01")
    # 01:00 on 1 February in Nairobi is 22:00 on 31 January in UTC.
    assert rows(by_day) == [("2026-01-31", 1, 100000), ("2026-02-01", 0, 0)]
    assert by_day.json()["timezone"] == "UTC"
