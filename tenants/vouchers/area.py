"""The vouchers' manifest: batches, revoking, CSV, print sheets, agents' sales and
commission (agents see only theirs), expiry, and the demo hotspot. (The captive portal,
its settings page and its M-Pesa purchases are a channel: channels/portal/area.py.)"""

from pathlib import Path

from kiunga.platform.areas import Area, DemoStep
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.vouchers import (
    api,
    console,
    jobs,
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
    ),
    # An agent's console is their own vouchers.
    nav=(NavItem("Vouchers", "/vouchers", fenced_staff=True),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Vouchers sold today", sales.count_sold_today),),
    scopes=SCOPES,
    jobs=(jobs.vouchers_expire_unused,),
    demo=DemoStep(seed=up_demo.seed, banner=up_demo.banner),
)
