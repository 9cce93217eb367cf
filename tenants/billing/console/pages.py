"""Console pages: invoices, one invoice with its lines and allocations, payments with a form
to record one (billing:write, i.e. finance, admins and owners), and a subscriber's statement."""

from __future__ import annotations

from dataclasses import dataclass

from kiunga.platform.auth.principals import StaffPrincipal
from kiunga.platform.db.base import utcnow
from kiunga.platform.web.console.rendering import page
from kiunga.platform.web.dependencies import TenantSession
from kiunga.platform.web.guards import requires_scopes, staff_only, tenant_only
from kiunga.platform.web.inputs import Id
from kiunga.platform.web.pagination import requested_page
from kiunga.tenants.billing import invoices, ledger, payments, queries
from kiunga.tenants.billing.api.common import actor_of
from kiunga.tenants.billing.console.formatting import parse_money
from kiunga.tenants.billing.errors import BillingError, NotFound, ReferenceConflict
from kiunga.tenants.billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from kiunga.tenants.billing.scopes import BILLING_READ, BILLING_WRITE
from kiunga.tenants.subscribers.models import Subscriber
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

PAGE_SIZE = 50
METHODS = [m.value for m in PaymentMethod]
STATUSES = [s.value for s in InvoiceStatus]


@dataclass
class PaymentForm:
    account_number: str = ""
    amount: str = ""
    method: str = "cash"
    reference: str = ""
    payer_phone: str = ""


def _can_write(request: Request) -> bool:
    principal = request.user
    return isinstance(principal, StaffPrincipal) and BILLING_WRITE in principal.scopes


async def _subscribers_by_id(session: AsyncSession, ids) -> dict[int, Subscriber]:
    ids = set(ids)
    if not ids:
        return {}
    rows = await session.scalars(select(Subscriber).where(Subscriber.id.in_(ids)))
    return {s.id: s for s in rows}


async def subscriber_by_account(session: AsyncSession, account_number: str) -> Subscriber | None:
    account = account_number.strip().upper()
    if not account:
        return None
    return await session.scalar(select(Subscriber).where(Subscriber.account_number == account))


def render_page(request: Request, template: str, *, status_code: int = 200, **context):
    return page(request, template, status_code=status_code, **context)


async def _render_payments(request, session, *, form=None, errors=None, status_code=200):
    account = request.query_params.get("account", "")
    pages = requested_page(request, PAGE_SIZE, keep={"account": account}, path="/payments")
    subscriber = await subscriber_by_account(session, account)
    filters = queries.DocumentFilters(subscriber_id=subscriber.id if subscriber else None)
    if account and subscriber is None:
        rows, total = [], 0
    else:
        rows, total = await queries.list_payments(
            session, filters, limit=pages.limit, offset=pages.offset
        )
    recorded = request.query_params.get("recorded", "")
    notice = await session.get(Payment, int(recorded)) if recorded.isdigit() else None
    return render_page(
        request,
        "billing/payments.html",
        status_code=status_code,
        payments=rows,
        total=total,
        pages=pages.counted(total),
        account=account,
        subscribers=await _subscribers_by_id(session, [p.subscriber_id for p in rows]),
        form=form or PaymentForm(),
        errors=errors or {},
        methods=METHODS,
        recorded=notice,
        can_write=_can_write(request),
    )


async def render_invoice(
    request, session, invoice_id: int, *, errors=None, form=None, status_code=200
) -> Response:
    """One invoice with its lines and allocations, and (billing:write) its issue and void
    forms; `errors` and `form` bring a refused action's input back beside its fields."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFoundException(f"no invoice with id {invoice_id}")
    allocations = await invoices.invoice_allocations(session, invoice.id)
    payment_ids = {a.payment_id for a in allocations if a.payment_id}
    receipts = {}
    if payment_ids:
        rows = await session.execute(
            select(Payment.id, Payment.receipt_number).where(Payment.id.in_(payment_ids))
        )
        receipts = dict(rows.all())
    allocated = sum(a.amount for a in allocations)
    return render_page(
        request,
        "billing/invoice.html",
        status_code=status_code,
        invoice=invoice,
        subscriber=await session.get(Subscriber, invoice.subscriber_id),
        allocations=allocations,
        receipts=receipts,
        allocated=allocated,
        remaining=invoice.total - allocated if invoice.status == InvoiceStatus.ISSUED else 0,
        errors=errors or {},
        form=form or {},
        can_write=_can_write(request),
    )


async def render_statement(
    request, session, subscriber_id: int, *, errors=None, form=None, status_code=200
) -> Response:
    """A subscriber's ledger with its running balance, and (billing:write) the forms for a
    credit note and an adjustment; `errors` are keyed "credit_note.amount" and the like."""
    subscriber = await session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFoundException(f"no subscriber with id {subscriber_id}")
    now = utcnow()
    documents = await session.scalars(
        select(Invoice)
        .where(Invoice.subscriber_id == subscriber_id)
        .where(Invoice.status.in_([InvoiceStatus.ISSUED, InvoiceStatus.PAID]))
        .order_by(Invoice.id.desc())
        .limit(50)
    )
    chosen = request.query_params.get("invoice_id", "")
    return render_page(
        request,
        "billing/statement.html",
        status_code=status_code,
        subscriber=subscriber,
        currency=await ledger.currency_of(session, subscriber_id),
        lines=await ledger.statement(session, subscriber_id),
        balance=await ledger.balance(session, subscriber_id),
        open_amount=await invoices.open_amount(session, subscriber_id),
        amount_due=await invoices.amount_due(session, subscriber_id, as_of=now),
        creditable_invoices=list(documents),
        errors=errors or {},
        refused={key.split(".")[0] for key in errors or {}},
        form=form or {"credit_note.invoice_id": chosen, "adjustment.direction": "credit"},
        saved=request.query_params.get("saved", ""),
        can_write=_can_write(request),
    )


class BillingPagesController(Controller):
    path = "/"
    include_in_schema = False
    guards = [tenant_only, staff_only, requires_scopes(BILLING_READ)]

    @get("/invoices")
    async def invoices_page(self, request: Request, tenant_session: TenantSession) -> Response:
        query = request.query_params
        status = query.get("status", "")
        account = query.get("account", "")
        pages = requested_page(
            request, PAGE_SIZE, keep={"account": account, "status": status}, path="/invoices"
        )
        subscriber = await subscriber_by_account(tenant_session, account)
        filters = queries.DocumentFilters(
            subscriber_id=subscriber.id if subscriber else None,
            status=InvoiceStatus(status) if status in STATUSES else None,
        )
        if account and subscriber is None:
            rows, total = [], 0
        else:
            rows, total = await queries.list_invoices(
                tenant_session, filters, limit=pages.limit, offset=pages.offset
            )
        allocated = await queries.allocated_by_invoice(tenant_session, [i.id for i in rows])
        return render_page(
            request,
            "billing/invoices.html",
            invoices=rows,
            allocated=allocated,
            total=total,
            pages=pages.counted(total),
            status=status,
            account=account,
            statuses=STATUSES,
            subscribers=await _subscribers_by_id(tenant_session, [i.subscriber_id for i in rows]),
            can_write=_can_write(request),
        )

    @get("/invoices/{invoice_id:int}")
    async def invoice_page(
        self, request: Request, tenant_session: TenantSession, invoice_id: FromPath[Id]
    ) -> Response:
        return await render_invoice(request, tenant_session, invoice_id)

    @get("/payments")
    async def payments_page(self, request: Request, tenant_session: TenantSession) -> Response:
        return await _render_payments(request, tenant_session)

    @post("/payments", guards=[requires_scopes(BILLING_WRITE)])
    async def record_payment(
        self, request: Request, tenant_session: TenantSession, data: URLEncodedBody[PaymentForm]
    ) -> Response:
        try:
            subscriber = await subscriber_by_account(tenant_session, data.account_number)
            if subscriber is None:
                raise BillingError("account_number", "no subscriber with that account number")
            currency = await ledger.currency_of(tenant_session, subscriber.id)
            amount = parse_money(data.amount, currency)
            outcome = await payments.record_payment(
                tenant_session,
                subscriber.id,
                amount,
                method=data.method,
                reference=data.reference,
                received_at=utcnow(),
                actor=actor_of(request.user),
                payer_phone=data.payer_phone,
            )
        except (BillingError, NotFound) as exc:
            # Nothing of a refused payment may be committed with the error page.
            await tenant_session.rollback()
            errors = exc.form_errors()
            status = 409 if isinstance(exc, ReferenceConflict) else 400
            return await _render_payments(
                request, tenant_session, form=data, errors=errors, status_code=status
            )
        # Post, then redirect, so a reload does not post again.
        return Redirect(f"/payments?recorded={outcome.payment.id}", status_code=303)

    @get("/subscribers/{subscriber_id:int}/statement")
    async def statement_page(
        self, request: Request, tenant_session: TenantSession, subscriber_id: FromPath[Id]
    ) -> Response:
        return await render_statement(request, tenant_session, subscriber_id)
