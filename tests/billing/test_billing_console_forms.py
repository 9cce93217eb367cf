"""Billing console forms: a new invoice with lines, issuing and voiding it, a credit note and
an adjustment; who may; errors beside the field and nothing of a refused form written."""

from __future__ import annotations

from kiunga.platform.models import StaffRole
from kiunga.tenants.billing.models import Adjustment, CreditNote, Invoice, LedgerEntry
from kiunga.tenants.subscribers.models import Subscriber
from sqlalchemy import func, select


async def counts(unit_of_work) -> dict[str, int]:
    async with unit_of_work() as session:
        return {
            model.__name__: await session.scalar(select(func.count()).select_from(model))
            for model in (Invoice, LedgerEntry, CreditNote, Adjustment)
        }


async def account_of(unit_of_work, subscriber_id) -> str:
    async with unit_of_work() as session:
        return await session.scalar(
            select(Subscriber.account_number).where(Subscriber.id == subscriber_id)
        )


def line(row, description="", quantity="1", unit_price=""):
    return {f"lines[{row}].description": description, f"lines[{row}].quantity": quantity,
            f"lines[{row}].unit_price": unit_price}  # fmt: skip


async def test_finance_writes_an_invoice_issues_and_voids_it(
    signed_in, csrf_token_in, unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    account = await account_of(unit_of_work, subscriber_id)
    finance = await signed_in(StaffRole.FINANCE)
    listing = await finance.get("/invoices")
    assert 'href="/invoices/new"' in listing.text
    form = await finance.get("/invoices/new", params={"account": account})
    assert form.status_code == 200 and f'value="{account}"' in form.text
    token = csrf_token_in(form.text)
    base = {"account_number": account, "due_date": "2026-02-01", "_csrf_token": token}

    # Every unreadable field at once, each beside its input; nothing written.
    bad = await finance.post(
        "/invoices/new",
        data={**base, "account_number": "NOPE", "due_date": "01/02/2026",
              **line(0, "Home 10 Mbps", "two", "2500"), **line(1, "", "1", "12.345"),
              **line(2, "Router", "1", "abc")},
    )  # fmt: skip
    assert bad.status_code == 400
    for field_id in ("account_number", "due_date", "lines-0-quantity", "lines-1-description",
                     "lines-1-unit_price", "lines-2-unit_price"):  # fmt: skip
        assert f'id="invoice-{field_id}-error"' in bad.text, field_id
    assert "decimal places" in bad.text and 'value="Home 10 Mbps"' in bad.text
    empty = await finance.post("/invoices/new", data=base)
    assert empty.status_code == 400 and 'id="invoice-lines-error"' in empty.text
    free = await finance.post("/invoices/new", data={**base, **line(0, "Router", "1", "0")})
    assert free.status_code == 400 and "more than zero" in free.text
    assert await counts(unit_of_work) == {
        "Invoice": 0, "LedgerEntry": 0, "CreditNote": 0, "Adjustment": 0
    }  # fmt: skip

    draft = await finance.post(
        "/invoices/new",
        data={**base, **line(0, "Home 10 Mbps", "1", "2,500"), **line(1, "Router", "2", "0"),
              **line(3, "Installation", "1", "1000.50")},
    )  # fmt: skip
    assert draft.status_code == 303, draft.text
    page = await finance.get(draft.headers["location"])
    assert "Draft invoice" in page.text and "KES 3,500.50" in page.text
    assert ">Issue</button>" in page.text
    invoice_path = draft.headers["location"]
    assert (await counts(unit_of_work))["LedgerEntry"] == 0

    issued = await finance.post(f"{invoice_path}/issue", data={"_csrf_token": token})
    assert issued.status_code == 303
    page = await finance.get(invoice_path)
    assert "INV-000001" in page.text and ">Issue</button>" not in page.text
    again = await finance.post(f"{invoice_path}/issue", data={"_csrf_token": token})
    assert again.status_code == 409 and "not a draft" in again.text

    no_reason = await finance.post(
        f"{invoice_path}/void", data={"reason": " ", "_csrf_token": token}
    )
    assert no_reason.status_code == 400 and 'id="void-reason-error"' in no_reason.text
    voided = await finance.post(
        f"{invoice_path}/void", data={"reason": "wrong package", "_csrf_token": token}
    )
    assert voided.status_code == 303
    page = await finance.get(invoice_path)
    assert "Voided: wrong package" in page.text and ">Void</button>" not in page.text

    issued_at_once = await finance.post(
        "/invoices/new", data={**base, "issue": "1", **line(0, "Home 10 Mbps", "1", "2500")}
    )
    assert issued_at_once.status_code == 303
    assert "INV-000002" in (await finance.get(issued_at_once.headers["location"])).text
    async with unit_of_work() as session:
        due = await session.scalar(select(Invoice.due_at).where(Invoice.number == "INV-000002"))
    # The end of 1 February in Nairobi (UTC+3).
    assert due.isoformat() == "2026-02-01T20:59:59+00:00"
    await check_invariants()


async def test_credit_note_and_adjustment_from_the_statement(
    signed_in, csrf_token_in, unit_of_work, add_subscriber, check_invariants
):
    subscriber_id = await add_subscriber()
    account = await account_of(unit_of_work, subscriber_id)
    admin = await signed_in(StaffRole.ADMIN)
    token = csrf_token_in((await admin.get("/invoices/new")).text)
    made = await admin.post(
        "/invoices/new",
        data={"account_number": account, "due_date": "2026-02-01", "issue": "1",
              "_csrf_token": token, **line(0, "Home 10 Mbps", "1", "2500")},
    )  # fmt: skip
    invoice_id = int(made.headers["location"].rsplit("/", 1)[1])
    invoice_page = await admin.get(made.headers["location"])
    credit_link = f"/subscribers/{subscriber_id}/statement?invoice_id={invoice_id}#credit-note"
    assert credit_link in invoice_page.text
    statement_path = f"/subscribers/{subscriber_id}/statement"
    statement = await admin.get(statement_path, params={"invoice_id": invoice_id})
    assert f'<option value="{invoice_id}" selected>INV-000001' in statement.text
    before = await counts(unit_of_work)

    bad_note = await admin.post(
        f"/subscribers/{subscriber_id}/credit-notes",
        data={"amount": "-5", "reason": "", "invoice_id": str(invoice_id), "_csrf_token": token},
    )
    assert bad_note.status_code == 400
    assert 'id="credit_note-amount-error"' in bad_note.text
    assert 'id="credit_note-reason-error"' in bad_note.text
    unknown_invoice = await admin.post(
        f"/subscribers/{subscriber_id}/credit-notes",
        data={"amount": "5", "reason": "outage", "invoice_id": "999999", "_csrf_token": token},
    )
    assert unknown_invoice.status_code == 404
    assert 'id="credit_note-invoice_id-error"' in unknown_invoice.text
    bad_adjustment = await admin.post(
        f"/subscribers/{subscriber_id}/adjustments",
        data={"amount": "10.001", "reason": "x", "direction": "sideways", "_csrf_token": token},
    )
    assert bad_adjustment.status_code == 400
    assert 'id="adjustment-amount-error"' in bad_adjustment.text
    assert 'id="adjustment-direction-error"' in bad_adjustment.text
    assert 'value="10.001"' in bad_adjustment.text
    assert await counts(unit_of_work) == before

    noted = await admin.post(
        f"/subscribers/{subscriber_id}/credit-notes",
        data={"amount": "500", "reason": "two days down", "invoice_id": str(invoice_id),
              "_csrf_token": token},
    )  # fmt: skip
    assert noted.status_code == 303
    shown = await admin.get(noted.headers["location"])
    assert (
        "Credit note recorded." in shown.text
        and "Credit note CN-000001: two days down" in shown.text
    )
    debited = await admin.post(
        f"/subscribers/{subscriber_id}/adjustments",
        data={"amount": "150", "reason": "cable", "direction": "debit", "_csrf_token": token},
    )
    assert debited.status_code == 303
    credited = await admin.post(
        f"/subscribers/{subscriber_id}/adjustments",
        data={"amount": "50.50", "reason": "goodwill", "direction": "credit", "_csrf_token": token},
    )
    assert credited.status_code == 303
    final = await admin.get(statement_path)
    assert "Adjustment: cable" in final.text and "-KES 150.00" in final.text
    # 2,500 invoiced − 500 credited + 150 debited − 50.50 credited = 2,099.50 owed
    assert "-KES 2,099.50" in final.text
    async with unit_of_work() as session:
        note = await session.scalar(select(CreditNote))
        assert (note.amount, note.invoice_id) == (50_000, invoice_id)
        amounts = sorted(a.amount for a in await session.scalars(select(Adjustment)))
        assert amounts == [-15_000, 5_050]
    await check_invariants()


async def test_only_billing_writers_see_and_use_the_forms(
    signed_in, csrf_token_in, unit_of_work, add_subscriber
):
    subscriber_id = await add_subscriber()
    support = await signed_in(StaffRole.SUPPORT)
    statement = await support.get(f"/subscribers/{subscriber_id}/statement")
    assert statement.status_code == 200 and "Record a credit note" not in statement.text
    assert 'href="/invoices/new"' not in (await support.get("/invoices")).text
    assert (await support.get("/invoices/new")).status_code == 403
    token = csrf_token_in(statement.text)
    for path, data in (
        ("/invoices/new", {"account_number": "X", "due_date": "2026-02-01"}),
        (f"/subscribers/{subscriber_id}/credit-notes", {"amount": "5", "reason": "x"}),
        (f"/subscribers/{subscriber_id}/adjustments",
         {"amount": "5", "reason": "x", "direction": "credit"}),
    ):  # fmt: skip
        refused = await support.post(path, data={**data, "_csrf_token": token})
        assert refused.status_code == 403, path
    assert (await counts(unit_of_work))["CreditNote"] == 0
    owner = await signed_in(StaffRole.OWNER)
    seen = await owner.get(f"/subscribers/{subscriber_id}/statement")
    assert "Record a credit note" in seen.text and "Post an adjustment" in seen.text
    missing = await owner.post(
        "/subscribers/999999/adjustments",
        data={"amount": "5", "reason": "x", "direction": "credit",
              "_csrf_token": csrf_token_in(seen.text)},
    )  # fmt: skip
    assert missing.status_code == 404
