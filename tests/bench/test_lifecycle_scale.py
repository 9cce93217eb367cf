"""Lifecycle scale: 100,000 subscribers over 10 tenants, a quarter of them due now.

Run with `KIUNGA_BENCH=1 python -m pytest tests/bench/test_lifecycle_scale.py -s
-p no:cacheprovider`. The data goes into a database of its own on the test server, written
with set-based SQL (it is the run that is timed, not the loading). Each tenant has one
service per subscriber:

- every tenth subscriber is postpaid, the rest prepaid (one calendar month);
- a quarter of the services (every fourth subscriber) ended an hour ago: the prepaid half of
  them whose subscribers hold credit renew from it, the other prepaid ones expire, and the
  postpaid ones get their next invoice;
- the other services end over the next 28 days (some inside the reminder window);
- every twentieth subscriber (from the tenth, postpaid) has an invoice ten days overdue:
  suspended, and reminded.

The timed run is `run_lifecycle` for every tenant, each in its own transaction as the
worker runs them, the ten tenants at once on one event loop. Every statement sent to
PostgreSQL is counted (SQLAlchemy's before_cursor_execute) and divided by the number of
subscribers and of due services. KIUNGA_BENCH_SUBSCRIBERS changes the size per tenant.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from kiunga.platform.db.base import utcnow
from kiunga.platform.db.engine import Database, sync_engine
from kiunga.platform.tenant_admin import create_tenant
from kiunga.tenants.billing.invariants import assert_ledger_invariants
from kiunga.tenants.lifecycle.run import run_lifecycle
from sqlalchemy import event, text

TENANTS = 10
PER_TENANT = int(os.environ.get("KIUNGA_BENCH_SUBSCRIBERS", "10000"))
GOAL_SECONDS = 60.0

LOAD = """
INSERT INTO packages (name, description, price, currency, billing_type, validity_count,
                      validity_unit, service_type, rate_limit)
VALUES ('Home 10M', '', 150000, 'KES', 'prepaid', 1, 'month', 'pppoe', '5M/10M'),
       ('Business 20M', '', 300000, 'KES', 'postpaid', 1, 'month', 'pppoe', '10M/20M');

INSERT INTO subscribers (account_number, name, email, region, branch, address, unit, notes,
                         language, status)
SELECT 'B' || lpad(i::text, 6, '0'), 'Subscriber ' || i, NULL, 'Nairobi', 'Kasarani', '', '',
       '', 'en', 'active'
FROM generate_series(1, :n) AS i;

INSERT INTO services (subscriber_id, package_id, service_type, username, status, auto_renew,
                      activated_at, period_start, expires_at)
SELECT s.id,
       (SELECT id FROM packages WHERE name = CASE WHEN s.id % 10 = 0 THEN 'Business 20M'
                                                  ELSE 'Home 10M' END),
       'pppoe', 'user' || s.id, 'active', true,
       :now - interval '40 days', :now - interval '1 month',
       CASE WHEN s.id % 4 = 0 THEN :now - interval '1 hour'
            ELSE :now + (s.id % 28 + 1) * interval '1 day' END
FROM subscribers s;

-- Credit for every eighth subscriber: an account, a payment and its ledger entry.
INSERT INTO accounts (subscriber_id, currency) SELECT id, 'KES' FROM subscribers;
INSERT INTO payments (receipt_number, subscriber_id, account_id, method, amount, currency,
                      reference, received_at, actor_kind, actor_label)
SELECT 'RCT-' || lpad(a.subscriber_id::text, 6, '0'), a.subscriber_id, a.id, 'mpesa', 200000,
       'KES', 'BENCH' || a.subscriber_id, :now - interval '2 days', 'system', 'bench'
FROM accounts a WHERE a.subscriber_id % 8 = 0;
INSERT INTO ledger_entries (account_id, kind, amount, description, payment_id, actor_kind,
                            actor_label)
SELECT p.account_id, 'payment', p.amount, 'Payment ' || p.receipt_number, p.id, 'system', 'bench'
FROM payments p;
INSERT INTO document_sequences (name, last_value)
SELECT 'receipt', count(*) FROM payments;

-- An unpaid postpaid invoice, ten days overdue, for every twentieth subscriber (from the
-- tenth): past the three days' grace, so the run suspends them.
INSERT INTO invoices (number, subscriber_id, account_id, currency, status, total, issued_at,
                      due_at, actor_kind, actor_label)
SELECT 'OLD-' || lpad(a.subscriber_id::text, 6, '0'), a.subscriber_id, a.id, 'KES', 'issued',
       300000, :now - interval '17 days', :now - interval '10 days', 'system', 'bench'
FROM accounts a WHERE a.subscriber_id % 20 = 10;
INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, amount)
SELECT id, 0, 'Business 20M', 1, total, total FROM invoices;
INSERT INTO ledger_entries (account_id, kind, amount, description, invoice_id, actor_kind,
                            actor_label)
SELECT account_id, 'invoice', -total, 'Invoice ' || number, id, 'system', 'bench'
FROM invoices;
ANALYZE;
"""


@pytest.fixture(scope="module")
def loaded(fresh_database, settings):
    with fresh_database("bench_lifecycle") as url:
        engine = sync_engine(url)
        now = utcnow()
        schemas = []
        started = time.perf_counter()
        for number in range(TENANTS):
            slug = f"life-{number:02d}"
            tenant = create_tenant(
                engine,
                slug=slug,
                name=f"ISP {slug}",
                owner_email="owner@bench.example",
                owner_password="bench owner password",
                base_domain="kiunga.bench",
            )
            with engine.begin() as connection:
                connection.execute(
                    text("SELECT set_config('search_path', :schema, true)"),
                    {"schema": tenant.schema},
                )
                for statement in LOAD.split(";\n"):
                    if statement.strip():
                        connection.execute(text(statement), {"n": PER_TENANT, "now": now})
            schemas.append(tenant.schema)
        print(
            f"\n[bench] loaded {TENANTS} tenants × {PER_TENANT:,} subscribers and services "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        engine.dispose()
        yield url, schemas, now


async def _run_tenant(database: Database, schema: str, now):
    async with database.tenant_session(schema) as session, session.begin():
        return await run_lifecycle(session, now=now)


async def test_lifecycle_run_over_100k_subscribers(loaded):
    url, schemas, now = loaded
    database = Database(url, pool_size=TENANTS)
    statements = 0

    def count(*_args) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        reports = await asyncio.gather(*(_run_tenant(database, s, now) for s in schemas))
        elapsed = time.perf_counter() - started
        timed_statements = statements

        totals: dict[str, int] = {}
        for report in reports:
            for key, value in report.as_dict().items():
                totals[key] = totals.get(key, 0) + value
        subscribers = TENANTS * PER_TENANT
        due = sum(1 for i in range(1, PER_TENANT + 1) if i % 4 == 0) * TENANTS
        print(
            f"\n[bench] lifecycle run over {subscribers:,} subscribers ({due:,} due) in "
            f"{TENANTS} tenants: {elapsed:.1f} s (goal < {GOAL_SECONDS:.0f} s)\n"
            f"[bench] {timed_statements:,} statements: "
            f"{timed_statements / subscribers:.3f} per subscriber, "
            f"{timed_statements / due:.3f} per due service\n"
            f"[bench] {totals}",
            flush=True,
        )
        expected_renewed = (
            sum(1 for i in range(1, PER_TENANT + 1) if i % 8 == 0 and i % 10 != 0) * TENANTS
        )
        assert totals["renewed"] == expected_renewed
        assert (
            totals["invoiced"] == sum(1 for i in range(1, PER_TENANT + 1) if i % 20 == 0) * TENANTS
        )
        assert totals["expired"] == due - expected_renewed - totals["invoiced"]
        overdue = sum(1 for i in range(1, PER_TENANT + 1) if i % 20 == 10) * TENANTS
        assert totals["suspended"] == overdue and totals["reminded_overdue"] == overdue

        # A second run at the same moment has nothing to do.
        again = await asyncio.gather(*(_run_tenant(database, s, now) for s in schemas))
        assert not any(v for r in again for v in r.as_dict().values())
        async with database.tenant_session(schemas[0]) as session, session.begin():
            await assert_ledger_invariants(session)
        assert elapsed < GOAL_SECONDS
    finally:
        await database.dispose()
