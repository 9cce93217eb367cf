"""The services' manifest: a subscriber's package on the network, and its state."""

from pathlib import Path

from kiunga.platform.areas import Area
from kiunga.platform.web.console.rendering import NavItem
from kiunga.tenants.services import api, console, service
from kiunga.tenants.services.scopes import SCOPES

AREA = Area(
    name="services",
    api_controllers=(api.ServiceController,),
    console_controllers=(console.ServicesPageController,),
    nav=(NavItem("Services", "/services"),),
    templates=(Path(__file__).parent / "templates",),
    dashboard_counters=(("Active services", service.count_active_services),),
    scopes=SCOPES,
)
