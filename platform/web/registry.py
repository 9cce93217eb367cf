"""The one place where the platform's web shell learns about the business areas.

Each area under tenants/ contributes its API controllers, console pages, navigation
entries, template folder and dashboard counts here. (Like tenants/models.py for the
migrations, this is the only platform module that imports the areas.)
"""

from __future__ import annotations

from pathlib import Path

from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing import queries as billing_queries
from kiunga.tenants.billing.api import accounts as billing_accounts_api
from kiunga.tenants.billing.api import invoices as billing_invoices_api
from kiunga.tenants.billing.api import payments as billing_payments_api
from kiunga.tenants.billing.console import pages as billing_console
from kiunga.tenants.catalog import api as catalog_api
from kiunga.tenants.catalog import console as catalog_console
from kiunga.tenants.catalog import service as catalog_service
from kiunga.tenants.imports import console as imports_console
from kiunga.tenants.reports import api as reports_api
from kiunga.tenants.reports import console as reports_console
from kiunga.tenants.sites import api as sites_api
from kiunga.tenants.sites import console as sites_console
from kiunga.tenants.sites import service as sites_service
from kiunga.tenants.subscribers import api as subscribers_api
from kiunga.tenants.subscribers import console as subscribers_console
from kiunga.tenants.subscribers import service as subscribers_service
from kiunga.tenants.tickets import api as tickets_api
from kiunga.tenants.tickets import console as tickets_console
from kiunga.tenants.tickets import service as tickets_service

TENANT_API_CONTROLLERS = [sites_api.SiteController]
CONSOLE_CONTROLLERS = [sites_console.SitesPageController]
CONSOLE_NAV = (NavItem("Dashboard", "/"), NavItem("Sites", "/sites"))
TEMPLATE_DIRECTORIES = [Path(sites_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS = [("Sites", sites_service.count_sites)]

# Catalog
TENANT_API_CONTROLLERS += [catalog_api.PackageController]
CONSOLE_CONTROLLERS += [catalog_console.PackagesPageController]
CONSOLE_NAV += (NavItem("Packages", "/packages"),)
TEMPLATE_DIRECTORIES += [Path(catalog_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Packages on sale", catalog_service.count_packages)]

# Subscribers
TENANT_API_CONTROLLERS += [subscribers_api.SubscriberController]
CONSOLE_CONTROLLERS += [subscribers_console.SubscribersPageController]
CONSOLE_NAV += (NavItem("Subscribers", "/subscribers"),)
TEMPLATE_DIRECTORIES += [Path(subscribers_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Active subscribers", subscribers_service.count_subscribers)]

# Imports
CONSOLE_CONTROLLERS += [imports_console.ImportsPageController]
TEMPLATE_DIRECTORIES += [Path(imports_console.__file__).parent / "templates"]

# Tickets
TENANT_API_CONTROLLERS += [tickets_api.TicketController]
CONSOLE_CONTROLLERS += [tickets_console.TicketsPageController]
CONSOLE_NAV += (NavItem("Tickets", "/tickets"),)
TEMPLATE_DIRECTORIES += [Path(tickets_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Open tickets", tickets_service.count_open_tickets)]


# Reports
TENANT_API_CONTROLLERS += [reports_api.ReportController]
CONSOLE_CONTROLLERS += [reports_console.ReportsPageController]
CONSOLE_NAV += (NavItem("Reports", "/reports"),)
TEMPLATE_DIRECTORIES += [Path(reports_console.__file__).parent / "templates"]

# Services (and the lifecycle's restore-on-payment hook, registered by importing the API)
from kiunga.tenants.services import api as services_api  # noqa: E402
from kiunga.tenants.services import console as services_console  # noqa: E402
from kiunga.tenants.services import service as services_service  # noqa: E402

TENANT_API_CONTROLLERS += [services_api.ServiceController]
CONSOLE_CONTROLLERS += [services_console.ServicesPageController]
CONSOLE_NAV += (NavItem("Services", "/services"),)
TEMPLATE_DIRECTORIES += [Path(services_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Active services", services_service.count_active_services)]

# Billing
TENANT_API_CONTROLLERS += [
    billing_invoices_api.InvoiceController,
    billing_payments_api.PaymentController,
    billing_payments_api.CreditNoteController,
    billing_payments_api.AdjustmentController,
    billing_accounts_api.SubscriberAccountController,
]
CONSOLE_CONTROLLERS += [billing_console.BillingPagesController]
CONSOLE_NAV += (NavItem("Invoices", "/invoices"), NavItem("Payments", "/payments"))
TEMPLATE_DIRECTORIES += [Path(billing_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Open invoices", billing_queries.count_open_invoices)]

# The lifecycle's settings (grace period, reminders, postpaid terms)
from kiunga.tenants.lifecycle import api as lifecycle_api  # noqa: E402

TENANT_API_CONTROLLERS += [lifecycle_api.LifecycleSettingsController]

# M-Pesa: Daraja's callbacks (any host, by secret path token), API and console pages
from kiunga.tenants.mpesa import api as mpesa_api  # noqa: E402
from kiunga.tenants.mpesa import callbacks_web as mpesa_callbacks  # noqa: E402
from kiunga.tenants.mpesa import console as mpesa_console  # noqa: E402
from kiunga.tenants.mpesa import queue as mpesa_queue  # noqa: E402

TENANT_API_CONTROLLERS += [mpesa_callbacks.DarajaCallbackController, mpesa_api.MpesaController]
CONSOLE_CONTROLLERS += [mpesa_console.MpesaPagesController]
CONSOLE_NAV += (NavItem("M-Pesa", "/mpesa/requests"),)
TEMPLATE_DIRECTORIES += [Path(mpesa_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Unmatched M-Pesa payments", mpesa_queue.count_unmatched)]

# Resellers (owners and admins manage them; a reseller's own key is refused)
from kiunga.tenants.resellers import api as resellers_api  # noqa: E402
from kiunga.tenants.resellers import console as resellers_console  # noqa: E402

TENANT_API_CONTROLLERS += [resellers_api.ResellerController]
CONSOLE_CONTROLLERS += [resellers_console.ResellersPageController]
CONSOLE_NAV += (NavItem("Resellers", "/resellers"),)
TEMPLATE_DIRECTORIES += [Path(resellers_console.__file__).parent / "templates"]

# The lifecycle's settings page (owners and admins)
from kiunga.tenants.lifecycle import console as lifecycle_console  # noqa: E402

CONSOLE_CONTROLLERS += [lifecycle_console.LifecycleSettingsPageController]
CONSOLE_NAV += (NavItem("Settings", "/settings/lifecycle"),)
TEMPLATE_DIRECTORIES += [Path(lifecycle_console.__file__).parent / "templates"]

# Billing's console forms (new invoice, issue, void, credit note, adjustment)
from kiunga.tenants.billing.console import forms as billing_console_forms  # noqa: E402

CONSOLE_CONTROLLERS += [billing_console_forms.BillingFormsController]

# Network: routers (RouterOS API or RADIUS), their status and "test connection"
from kiunga.tenants.network import api as network_api  # noqa: E402
from kiunga.tenants.network import console as network_console  # noqa: E402
from kiunga.tenants.network import service as network_service  # noqa: E402
from kiunga.tenants.network.provisioning import api as provisioning_api  # noqa: E402
from kiunga.tenants.network.provisioning import console as provisioning_console  # noqa: E402

TENANT_API_CONTROLLERS += [network_api.RouterController]
TENANT_API_CONTROLLERS += [provisioning_api.RouterProvisioningController]
CONSOLE_CONTROLLERS += [network_console.RoutersPageController]
CONSOLE_CONTROLLERS += [provisioning_console.RouterSyncPageController]
CONSOLE_NAV += (NavItem("Routers", "/routers"),)
TEMPLATE_DIRECTORIES += [Path(network_console.__file__).parent / "templates"]
DASHBOARD_COUNTERS += [("Routers", network_service.count_routers)]

# Voucher sheets: a batch's unused vouchers as an A4 print view and a PDF
from kiunga.tenants.vouchers import sheets_console as voucher_sheets_console  # noqa: E402

CONSOLE_CONTROLLERS += [voucher_sheets_console.VoucherSheetsController]
_voucher_templates = Path(voucher_sheets_console.__file__).parent / "templates"
if _voucher_templates not in TEMPLATE_DIRECTORIES:
    TEMPLATE_DIRECTORIES += [_voucher_templates]

# Captive portal: the hotspot user's pages under /portal/ on the ISP's host
from kiunga.channels.portal import web as portal_web  # noqa: E402

CONSOLE_CONTROLLERS += [portal_web.PortalController]

# Vouchers: batches, revoking, CSV, agents' sales and commission (agents see only theirs)
from kiunga.tenants.vouchers import api as vouchers_api  # noqa: E402
from kiunga.tenants.vouchers import console as vouchers_console  # noqa: E402
from kiunga.tenants.vouchers import sales as voucher_sales  # noqa: E402

TENANT_API_CONTROLLERS += vouchers_api.CONTROLLERS
CONSOLE_CONTROLLERS += [vouchers_console.VouchersPageController]
CONSOLE_NAV += (NavItem("Vouchers", "/vouchers"),)
_voucher_templates = Path(vouchers_console.__file__).parent / "templates"
if _voucher_templates not in TEMPLATE_DIRECTORIES:
    TEMPLATE_DIRECTORIES += [_voucher_templates]
DASHBOARD_COUNTERS += [("Vouchers sold today", voucher_sales.count_sold_today)]

# Captive portal: the console's page (look, packages on sale) and the router's files
from kiunga.channels.portal import console_files as portal_console_files  # noqa: E402
from kiunga.tenants.vouchers import portal_console  # noqa: E402

CONSOLE_CONTROLLERS += [
    portal_console.PortalSettingsPageController,
    portal_console_files.PortalRouterFilesController,
]
CONSOLE_NAV += (NavItem("Portal", "/settings/portal"),)
_portal_console_templates = Path(portal_console.__file__).parent / "templates"
if _portal_console_templates not in TEMPLATE_DIRECTORIES:
    TEMPLATE_DIRECTORIES += [_portal_console_templates]
