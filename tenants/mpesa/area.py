"""M-Pesa's manifest: Daraja's callbacks (any host, by secret path token), the API and
console pages, the settling job, the facts a payment's receipt tells, and the demo paybill."""

from pathlib import Path

from kiunga.platform.areas import Area, DemoStep
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.billing.hooks import payment_facts_provider
from kiunga.tenants.mpesa import api, callbacks_web, console, events, jobs, queue, up_demo
from kiunga.tenants.mpesa.scopes import SCOPES

AREA = Area(
    name="mpesa",
    api_controllers=(callbacks_web.DarajaCallbackController, api.MpesaController),
    console_controllers=(console.MpesaPagesController,),
    nav=(NavItem("M-Pesa", "/mpesa/requests"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Unmatched M-Pesa payments", queue.count_unmatched),),
    scopes=SCOPES,
    jobs=(jobs.mpesa_settle_pending,),
    hooks=(payment_facts_provider(events.service_expiry),),
    demo=DemoStep(seed=up_demo.seed, banner=up_demo.banner),
)
