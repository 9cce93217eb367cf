"""Billing's manifest: invoices, payments, credit notes, adjustments and balances.

Billing offers the payment hooks (see hooks.py); the areas that react to money list theirs.
"""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing import queries
from kiunga.tenants.billing.api import accounts, invoices, payments
from kiunga.tenants.billing.console import forms, pages
from kiunga.tenants.billing.scopes import SCOPES

AREA = Area(
    name="billing",
    api_controllers=(
        invoices.InvoiceController,
        payments.PaymentController,
        payments.CreditNoteController,
        payments.AdjustmentController,
        accounts.SubscriberAccountController,
    ),
    console_controllers=(pages.BillingPagesController, forms.BillingFormsController),
    nav=(NavItem("Invoices", "/invoices"), NavItem("Payments", "/payments")),
    templates=(Path(pages.__file__).parent / "templates",),
    dashboard_counters=(("Open invoices", queries.count_open_invoices),),
    scopes=SCOPES,
)
