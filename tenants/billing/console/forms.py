"""Console forms that write billing documents (billing:write: finance, admins, owners): a
new invoice with its lines, issuing or voiding one, a credit note and an adjustment.

Each form is read completely first, every field that cannot be read named beside it; the
document is then written in the request's one transaction, and a refusal rolls that
transaction back before the form comes back, so nothing of a refused document is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from kiunga.platform.db.base import utcnow
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.tenants.billing import adjustments, invoices, ledger
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.billing.console.formatting import parse_money
from kiunga.tenants.billing.console.pages import (
    render_invoice,
    render_page,
    render_statement,
    subscriber_by_account,
)
from kiunga.tenants.billing.errors import BillingError, NotFound
from kiunga.tenants.billing.invoices import InvoiceLineInput
from kiunga.tenants.billing.scopes import BILLING_WRITE
from kiunga.tenants.zones import tenant_zone
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT
from sqlalchemy.ext.asyncio import AsyncSession

LINE_ROWS = 5
DEFAULT_DUE_DAYS = 7
LINE_FIELDS = ("description", "quantity", "unit_price")
# Refusals about a document's state rather than its input: 409, like the API.
STATE_FIELDS = frozenset({"status", "invoice_id"})


class FormErrors(Exception):
    """Every field of a form that could not be read: {field: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class InvoiceForm:
    subscriber_id: int
    due_at: datetime
    lines: list[InvoiceLineInput]
    issue: bool


def _line_price(text: str, currency: str, field: str) -> int:
    # A free line (an included router, say) is allowed; the invoice's total is checked later.
    try:
        if Decimal((text or "").replace(",", "").strip() or "x") == 0:
            return 0
    except InvalidOperation:
        pass
    return parse_money(text, currency, field)


def _read_lines(form: FormMultiDict, currency: str, errors: dict[str, str]):
    lines = []
    for row in range(LINE_ROWS):
        given = {name: (form.get(f"lines[{row}].{name}") or "").strip() for name in LINE_FIELDS}
        if not given["description"] and not given["unit_price"]:
            continue  # an unused row
        field = f"lines[{row}]"
        if not given["description"]:
            errors[f"{field}.description"] = "describe what is charged"
        quantity = given["quantity"] or "1"
        if not quantity.isdigit() or int(quantity) == 0 or len(quantity) > 6:
            errors[f"{field}.quantity"] = "quantity must be a whole number more than zero"
        try:
            price = _line_price(given["unit_price"], currency, f"{field}.unit_price")
        except BillingError as exc:
            errors[exc.field] = exc.message.replace(f"{field}.unit_price", "unit price")
            continue
        if quantity.isdigit() and int(quantity) and given["description"]:
            lines.append(InvoiceLineInput(given["description"], int(quantity), price))
    if not lines and not errors:
        errors["lines"] = "an invoice needs at least one line"
    return lines


async def read_invoice_form(session: AsyncSession, form: FormMultiDict) -> InvoiceForm:
    errors: dict[str, str] = {}
    subscriber = await subscriber_by_account(session, form.get("account_number") or "")
    if subscriber is None:
        errors["account_number"] = "no subscriber with that account number"
    currency = (
        await ledger.currency_of(session, subscriber.id)
        if subscriber
        else await ledger.tenant_currency(session)
    )
    due_at = None
    try:
        due_day = date.fromisoformat((form.get("due_date") or "").strip())
    except ValueError:
        errors["due_date"] = "due date must be a date like 2026-01-31"
    else:
        # Due at the end of that day where the ISP is.
        next_day = datetime.combine(due_day + timedelta(days=1), time())
        due_at = next_day.replace(tzinfo=await tenant_zone(session)) - timedelta(seconds=1)
    lines = _read_lines(form, currency, errors)
    if errors:
        raise FormErrors(errors)
    return InvoiceForm(subscriber.id, due_at, lines, issue=bool(form.get("issue")))


def _form_values(form: FormMultiDict) -> dict[str, str]:
    return {key: value for key, value in form.items() if key != "_csrf_token"}


def _status_for(exc: BillingError | NotFound) -> int:
    if isinstance(exc, NotFound):
        return HTTP_404_NOT_FOUND
    return HTTP_409_CONFLICT if exc.field in STATE_FIELDS else HTTP_400_BAD_REQUEST


async def _render_new_invoice(request, session, *, form=None, errors=None, status_code=200):
    if form is None:
        today = utcnow().astimezone(await tenant_zone(session)).date()
        form = {
            "account_number": request.query_params.get("account", ""),
            "due_date": (today + timedelta(days=DEFAULT_DUE_DAYS)).isoformat(),
            "issue": "1",
        }
    return render_page(
        request,
        "billing/invoice_new.html",
        status_code=status_code,
        form=form,
        errors=errors or {},
        rows=range(LINE_ROWS),
    )


def _money_or_error(text: str, currency: str, prefix: str, errors: dict[str, str]) -> int | None:
    try:
        return parse_money(text, currency)
    except BillingError as exc:
        errors[f"{prefix}.amount"] = exc.message
        return None


class BillingFormsController(Controller):
    path = "/"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(BILLING_WRITE)]

    @get("/invoices/new")
    async def new_invoice(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render_new_invoice(request, tenant_session)

    @post("/invoices/new")
    async def create_invoice(self, request: Request, tenant_session: TenantSession) -> Response:
        form = await request.form()
        try:
            parsed = await read_invoice_form(tenant_session, form)
            make = invoices.issue_invoice if parsed.issue else invoices.create_draft
            invoice = await make(
                tenant_session,
                parsed.subscriber_id,
                parsed.lines,
                due_at=parsed.due_at,
                actor=actor_of(request.user),
            )
        except FormErrors as exc:
            await tenant_session.rollback()
            return await _render_new_invoice(
                request, tenant_session, form=_form_values(form), errors=exc.errors,
                status_code=HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        except (BillingError, NotFound) as exc:
            await tenant_session.rollback()
            return await _render_new_invoice(
                request, tenant_session, form=_form_values(form),
                errors=exc.form_errors(), status_code=_status_for(exc),
            )  # fmt: skip
        return Redirect(f"/invoices/{invoice.id}", status_code=303)

    @post("/invoices/{invoice_id:int}/issue")
    async def issue_invoice(
        self, request: Request, tenant_session: TenantSession, invoice_id: FromPath[Id]
    ) -> Response:
        try:
            await invoices.issue_draft(tenant_session, invoice_id, actor=actor_of(request.user))
        except (BillingError, NotFound) as exc:
            await tenant_session.rollback()
            return await render_invoice(
                request, tenant_session, invoice_id,
                errors=exc.form_errors("issue."), status_code=_status_for(exc),
            )  # fmt: skip
        return Redirect(f"/invoices/{invoice_id}", status_code=303)

    @post("/invoices/{invoice_id:int}/void")
    async def void_invoice(
        self, request: Request, tenant_session: TenantSession, invoice_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        try:
            await invoices.void_invoice(
                tenant_session,
                invoice_id,
                reason=form.get("reason") or "",
                actor=actor_of(request.user),
            )
        except (BillingError, NotFound) as exc:
            await tenant_session.rollback()
            return await render_invoice(
                request, tenant_session, invoice_id, form={"void.reason": form.get("reason", "")},
                errors=exc.form_errors("void."), status_code=_status_for(exc),
            )  # fmt: skip
        return Redirect(f"/invoices/{invoice_id}", status_code=303)

    @post("/subscribers/{subscriber_id:int}/credit-notes")
    async def issue_credit_note(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        prefix = "credit_note"
        values = {
            f"{prefix}.{key}": form.get(key, "") for key in ("amount", "reason", "invoice_id")
        }
        errors: dict[str, str] = {}
        invoice_text = (form.get("invoice_id") or "").strip()
        if invoice_text and not invoice_text.isdigit():
            errors[f"{prefix}.invoice_id"] = "choose an invoice from the list"
        try:
            currency = await ledger.currency_of(tenant_session, subscriber_id)
            amount = _money_or_error(form.get("amount") or "", currency, prefix, errors)
            if not (form.get("reason") or "").strip():
                errors[f"{prefix}.reason"] = "reason is required"
            if errors:
                raise FormErrors(errors)
            await adjustments.issue_credit_note(
                tenant_session,
                subscriber_id,
                amount,
                reason=form.get("reason") or "",
                actor=actor_of(request.user),
                invoice_id=int(invoice_text) if invoice_text else None,
            )
        except FormErrors as exc:
            return await self._refused(request, tenant_session, subscriber_id, values, exc.errors)
        except (BillingError, NotFound) as exc:
            errors = exc.form_errors(f"{prefix}.")
            return await self._refused(
                request, tenant_session, subscriber_id, values, errors, _status_for(exc)
            )
        return Redirect(f"/subscribers/{subscriber_id}/statement?saved={prefix}", status_code=303)

    @post("/subscribers/{subscriber_id:int}/adjustments")
    async def post_adjustment(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        form = await request.form()
        prefix = "adjustment"
        values = {f"{prefix}.{key}": form.get(key, "") for key in ("amount", "reason", "direction")}
        errors: dict[str, str] = {}
        direction = form.get("direction") or ""
        if direction not in ("credit", "debit"):
            errors[f"{prefix}.direction"] = "choose credit or debit"
        try:
            currency = await ledger.currency_of(tenant_session, subscriber_id)
            amount = _money_or_error(form.get("amount") or "", currency, prefix, errors)
            if not (form.get("reason") or "").strip():
                errors[f"{prefix}.reason"] = "reason is required"
            if errors:
                raise FormErrors(errors)
            await adjustments.post_adjustment(
                tenant_session,
                subscriber_id,
                amount if direction == "credit" else -amount,
                reason=form.get("reason") or "",
                actor=actor_of(request.user),
            )
        except FormErrors as exc:
            return await self._refused(request, tenant_session, subscriber_id, values, exc.errors)
        except (BillingError, NotFound) as exc:
            errors = exc.form_errors(f"{prefix}.")
            return await self._refused(
                request, tenant_session, subscriber_id, values, errors, _status_for(exc)
            )
        return Redirect(f"/subscribers/{subscriber_id}/statement?saved={prefix}", status_code=303)

    @staticmethod
    async def _refused(request, session, subscriber_id, values, errors, status_code=400):
        await session.rollback()
        return await render_statement(
            request, session, subscriber_id, form=values, errors=errors, status_code=status_code
        )
