"""The captive portal's manifest: the hotspot user's pages under /portal/ on the ISP's host,
its settings page and the router's files in the console, and what finishes an M-Pesa
purchase made on it (a payment hook that issues the voucher, and the payer of a first-time
buyer's STK request, named only once paid). It uses the vouchers area's services."""

from pathlib import Path

from kiunga.channels.portal import console_files, purchase_hooks, settings_console, web
from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing.hooks import payment_hook
from kiunga.tenants.mpesa.payers import payer_resolver

AREA = Area(
    name="portal",
    console_controllers=(
        settings_console.PortalSettingsPageController,
        web.PortalController,
        console_files.PortalRouterFilesController,
    ),
    nav=(NavItem("Portal", "/settings/portal"),),
    templates=(Path(__file__).parent / "console_templates",),
    hooks=(
        payment_hook(purchase_hooks.issue_paid_purchase),
        payer_resolver(purchase_hooks.portal_buyer),
    ),
)
