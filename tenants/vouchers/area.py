"""The vouchers' manifest: batches, revoking, CSV, print sheets, agents' sales and
commission (agents see only theirs), the captive portal's settings page and its purchases
(a payment hook, and the payer of a first-time buyer's STK request), expiry, and the demo
hotspot."""

from pathlib import Path

from kiunga.platform.areas import Area, DemoStep
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing.hooks import payment_hook
from kiunga.tenants.mpesa.payers import payer_resolver
from kiunga.tenants.vouchers import (
    api,
    console,
    jobs,
    portal_console,
    purchase_hooks,
    sales,
    sheets_console,
    up_demo,
)
from kiunga.tenants.vouchers.scopes import SCOPES

AREA = Area(
    name="vouchers",
    api_controllers=tuple(api.CONTROLLERS),
    console_controllers=(
        sheets_console.VoucherSheetsController,
        console.VouchersPageController,
        portal_console.PortalSettingsPageController,
    ),
    nav=(NavItem("Vouchers", "/vouchers"), NavItem("Portal", "/settings/portal")),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Vouchers sold today", sales.count_sold_today),),
    scopes=SCOPES,
    jobs=(jobs.vouchers_expire_unused,),
    hooks=(
        payment_hook(purchase_hooks.issue_paid_purchase),
        payer_resolver(purchase_hooks.portal_buyer),
    ),
    demo=DemoStep(seed=up_demo.seed, banner=up_demo.banner),
)
