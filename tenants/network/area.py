"""The network's manifest: routers (RouterOS API or RADIUS), their status, provisioning,
RADIUS's handlers and jobs, `kiunga radius`, and the demo router and hotspot."""

from pathlib import Path

from kiunga.platform.areas import Area, DemoStep
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.network import api, cli, console, jobs, service, up_demo
from kiunga.tenants.network.provisioning import api as provisioning_api
from kiunga.tenants.network.provisioning import console as provisioning_console
from kiunga.tenants.network.provisioning import jobs as provisioning_jobs
from kiunga.tenants.network.radius import jobs as radius_jobs
from kiunga.tenants.network.scopes import SCOPES

AREA = Area(
    name="network",
    api_controllers=(api.RouterController, provisioning_api.RouterProvisioningController),
    console_controllers=(
        console.RoutersPageController,
        provisioning_console.RouterSyncPageController,
    ),
    nav=(NavItem("Routers", "/routers"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Routers", service.count_routers),),
    scopes=SCOPES,
    jobs=(jobs.network_poll_routers, *provisioning_jobs.JOBS, *radius_jobs.JOBS),
    event_handlers=(*provisioning_jobs.HANDLERS, *radius_jobs.HANDLERS),
    cli=(cli.register,),
    demo=DemoStep(seed=up_demo.seed, start=up_demo.start, banner=up_demo.banner),
)
